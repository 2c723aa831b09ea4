import Mosquitto

/// What every probe connection shares: the user's connection settings (host,
/// port, TLS, credentials, protocol), the one event loop they all run in, and
/// the progress line. Each connection gets its own client id; probes never
/// reconnect (two clients sharing an id would kick each other forever).
struct ProbeContext {
    let loop: EventLoop
    /// The user's settings, without will or session choices: probes set those per connection.
    let base: ConnectOptions
    let debug: Bool
    let progress: Progress
    /// --json: notes go into the document, not to stderr.
    let quiet: Bool

    var endpoint: String { base.endpoint }

    /// A client for one probe connection, added to the loop but not connected.
    /// `configure` sets what differs from the base (keep-alive, will, session).
    func makeClient(
        id: String, _ configure: (inout ConnectOptions) -> Void = { _ in }
    ) throws(CommandFailure) -> MQTTClient {
        var options = base
        options.clientID = id
        options.will = nil
        options.cleanSession = true
        options.sessionExpiry = nil
        // Probe connections measure: nothing may be held back by Nagle or a delayed ACK.
        options.tcpNoDelay = true
        options.quickAck = true
        configure(&options)
        let client: MQTTClient
        do {
            client = try MQTTClient(options: options)
        } catch {
            throw CommandFailure(error)
        }
        if debug {
            // Several connections share stderr: say whose line it is.
            client.onLog = { [progress] _, line in
                progress.clear()
                Diagnostics.writeLine("[\(id)] \(line)")
            }
        }
        loop.add(client)
        return client
    }

    /// Opens the TCP connection and queues CONNECT; CONNACK arrives in the loop.
    func connect(_ client: MQTTClient) throws(CommandFailure) {
        do {
            try client.connect()
        } catch {
            throw CommandFailure(error)
        }
    }
}

extension MQTTClient {
    /// DISCONNECT if the connection is open (also ends a silent client cleanly).
    func disconnectIfOpen() {
        if state == .connecting || state == .connected { disconnect() }
    }
}
