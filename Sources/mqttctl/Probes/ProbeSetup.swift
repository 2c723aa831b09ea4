import Mosquitto

/// The set-up every probe command shares: connection settings from the
/// options, a client id to build the probe's ids on, the loop and progress.
struct ProbeSetup {
    let version: ProtocolVersion
    let options: ConnectOptions
    let baseID: String
    let userGaveID: Bool
    let context: ProbeContext

    /// `idSuffix`: appended to a made-up base id ("to" gives mqttctl-3fa2c1-to).
    init(
        connection: ConnectionOptions, transport: TransportOptions, version: ProtocolVersion, json: Bool,
        idSuffix: String?,
        loop: EventLoop = EventLoop(), progress: Progress? = nil
    ) throws(CommandFailure) {
        self.version = version
        var connection = connection
        userGaveID = connection.id != nil || connection.idPrefix != nil
        if !userGaveID {
            connection.id = "mqttctl-\(RunID.make())" + (idSuffix.map { "-\($0)" } ?? "")
        }
        (options, _) = try connection.resolveConnection(
            transport: transport, keepAlive: 60, protocolVersion: version, will: nil, properties: nil)
        baseID = options.clientID ?? "mqttctl"
        var base = options
        base.will = nil
        context = ProbeContext(
            loop: loop, base: base, debug: connection.debug,
            progress: progress ?? Progress.forCommand(json: json), quiet: json)
    }

    /// The versions a probe command runs: the one -V names, else MQTT 3.1.1 and 5.
    static func versions(_ explicit: ProtocolVersion?) -> [ProtocolVersion] {
        explicit.map { [$0] } ?? [.v311, .v5]
    }

    /// One set-up per version in `versions`, sharing a loop and a progress line;
    /// a session expiry (-x) goes to MQTT 5 only, the one version that has it.
    static func perVersion(
        _ versions: [ProtocolVersion], connection: ConnectionOptions, transport: TransportOptions, json: Bool,
        loop: EventLoop, progress: Progress
    ) throws(CommandFailure) -> [ProbeSetup] {
        try versions.map { version throws(CommandFailure) in
            var c = connection
            if version != .v5 { c.sessionExpiry = nil }
            return try ProbeSetup(
                connection: c, transport: transport, version: version, json: json, idSuffix: nil, loop: loop, progress: progress)
        }
    }

    /// The set-ups the broker accepts, each connected once (all at once: a broker
    /// may ignore one version and answer the other). One it refuses is skipped
    /// and said so, unless -V asked for it (`explicit`) or none works: then that
    /// failure is the command's.
    static func accepted(
        _ setups: [ProbeSetup], explicit: ProtocolVersion?
    ) throws(CommandFailure) -> (usable: [(setup: ProbeSetup, ack: ConnAck)], skipped: [ProbeReport.Skipped]) {
        let checks = try checkConnects(setups)
        var skipped: [ProbeReport.Skipped] = []
        var usable: [(setup: ProbeSetup, ack: ConnAck)] = []
        for (setup, check) in zip(setups, checks) {
            switch check {
            case .success(let ack): usable.append((setup, ack))
            case .failure(let error):
                if explicit != nil { throw error }
                skipped.append(
                    ProbeReport.Skipped(
                        version: setup.version,
                        reason: "the broker did not accept MQTT \(setup.version): \(error.message)"))
            }
        }
        if usable.isEmpty, case .failure(let error)? = checks.first { throw error }
        return (usable, skipped)
    }

    /// Connects once with each setup's settings, all at once in their shared
    /// loop, and disconnects: the CONNACK per setup, or how its connection failed.
    /// Throws only for a signal.
    static func checkConnects(_ setups: [ProbeSetup]) throws(CommandFailure) -> [Result<ConnAck, CommandFailure>] {
        guard let loop = setups.first?.context.loop else { return [] }
        var results: [Result<ConnAck, CommandFailure>?] = Array(repeating: nil, count: setups.count)
        var clients: [MQTTClient?] = []
        for (i, setup) in setups.enumerated() {
            do throws(CommandFailure) {
                let client = try setup.context.makeClient(id: "\(setup.baseID)-\(setup.version.rawValue)-chk")
                clients.append(client)
                try setup.context.connect(client)
            } catch {
                if clients.count == i { clients.append(nil) }
                results[i] = .failure(error)
            }
        }
        let open = clients.compactMap { $0 }
        let stop = loop.run { open.allSatisfy { $0.state != .connecting } }
        if case .signal(let sig) = stop {
            for client in open { client.disconnectIfOpen() }
            throw CommandFailure(ExitStatus(signal: sig), "")
        }
        for (i, client) in clients.enumerated() {
            guard let client, results[i] == nil else { continue }
            if let ack = client.connAck, ack.code == 0, client.state == .connected {
                results[i] = .success(ack)
            } else {
                results[i] = .failure(ClientSession.failure(for: client))
            }
        }
        for client in open { ClientSession.disconnect(client, on: loop) }
        for client in open { loop.remove(client) }
        return results.map { $0 ?? .failure(CommandFailure(.failure, "not checked")) }
    }

    /// Writes the report to stdout.
    func print(_ text: String) throws(CommandFailure) {
        let output = OutputBuffer()
        output.append(text)
        try output.finish()
    }
}
