import Mosquitto

/// The connect-and-wait-for-CONNACK step every subcommand starts with, and the
/// clean shutdown they end with.
enum ClientSession {
    /// Creates a client; with `debug`, libmosquitto's log goes to stderr.
    static func makeClient(_ options: ConnectOptions, debug: Bool) throws(CommandFailure) -> MQTTClient {
        let client: MQTTClient
        do {
            client = try MQTTClient(options: options)
        } catch {
            throw CommandFailure(error)
        }
        if debug {
            client.onLog = { _, line in Diagnostics.writeLine(line) }
        }
        return client
    }

    /// Connects and runs `loop` until CONNACK. Throws with the right exit status
    /// for DNS, refused, TLS, CONNACK refusal, timeout or a signal.
    static func connect(_ client: MQTTClient, on loop: EventLoop) throws(CommandFailure) {
        loop.add(client)
        do {
            try client.connect()
        } catch {
            throw CommandFailure(error)
        }
        let stop = loop.run { client.state != .connecting }
        if case .signal(let sig) = stop {
            throw CommandFailure(ExitStatus(signal: sig), "")
        }
        // A connection that was accepted may already be over (a persistent session's
        // queued messages can arrive with CONNACK and end `sub -C` at once): that is
        // for the caller to judge. Only a connection that never got going fails here.
        if client.state == .closed && client.connAck?.code != 0 {
            throw failure(for: client)
        }
    }

    /// The failure a closed client ended with.
    static func failure(for client: MQTTClient) -> CommandFailure {
        switch client.closeReason {
        case .failed(let error)?:
            return CommandFailure(error)
        case .serverDisconnect(let disconnect)?:
            let reason = disconnect.reasonString.map { " \"\($0)\"" } ?? ""
            return CommandFailure(
                .connectionLost,
                "the broker closed the connection: \(ReasonCode.describe(disconnect.reasonCode))\(reason)")
        case .requested?, nil:
            return CommandFailure(.connectionLost, "the connection to \(client.options.endpoint) was closed")
        }
    }

    /// Sends DISCONNECT and waits (briefly) until it has been written.
    static func disconnect(
        _ client: MQTTClient, on loop: EventLoop, reasonCode: Int = 0,
        properties: MQTTProperties = MQTTProperties(), timeout: Double = 2
    ) {
        guard client.state == .connected || client.state == .connecting else { return }
        client.disconnect(reasonCode: reasonCode, properties: properties)
        // A second signal during this short wait must not prevent the exit.
        let deadline = MonotonicClock.after(seconds: timeout)
        while client.state != .closed {
            let stop = loop.run(deadline: deadline) { client.state == .closed }
            if case .signal(let sig) = stop { Signals.repost(sig) }
            if stop != .finished { break }
        }
    }
}
