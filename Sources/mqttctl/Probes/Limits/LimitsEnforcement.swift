import Mosquitto

/// Whether an MQTT 5 broker enforces the limits its CONNACK announced: a
/// packet that breaks one is written around libmosquitto (which would refuse
/// to send it), and we read what comes back: a DISCONNECT with its reason
/// code, a bare close, an acknowledgement, or nothing.
extension LimitsProbe {
    /// What the broker did with a packet that breaks a limit.
    enum Answer: Equatable {
        case disconnect(Int)
        case closed
        case acknowledged
        case nothing

        var text: String {
            switch self {
            case .disconnect(let code): return "sent DISCONNECT \(ReasonCode.describe(code)) and closed the connection"
            case .closed: return "closed the connection without DISCONNECT"
            case .acknowledged: return "acknowledged it"
            case .nothing: return "neither closed the connection nor answered within the wait"
            }
        }
    }

    func enforcement(_ ack: ConnAck?) throws(LimitsInterrupted) -> [LimitCheck] {
        guard version == .v5, let ack else { return [] }
        var checks: [LimitCheck] = []
        let aliasMaximum = ack.properties.topicAliasMaximum ?? 0
        if aliasMaximum < 65535 {
            var properties: [UInt8] = [0x23]
            let alias = aliasMaximum + 1
            properties += [UInt8(alias >> 8), UInt8(alias & 0xFF)]
            checks.append(
                try enforce(
                    id: "topic-alias-enforced", title: "a Topic Alias over the maximum (\(aliasMaximum)) is refused",
                    code: 0x94,
                    packet: Self.publish(topic: topic("alias"), qos: 1, properties: properties, payload: [0x61])))
        }
        if let maximum = ack.properties.maximumQoS, maximum < 2 {
            checks.append(
                try enforce(
                    id: "maximum-qos-enforced", title: "a PUBLISH above Maximum QoS (\(maximum)) is refused",
                    code: 0x9B,
                    packet: Self.publish(topic: topic("qos"), qos: maximum + 1, properties: [], payload: [0x61])))
        }
        if let size = ack.properties.maximumPacketSize, size < 1 << 24 {
            let payload = [UInt8](repeating: 0x61, count: size)
            checks.append(
                try enforce(
                    id: "packet-size-enforced", title: "a packet over Maximum Packet Size (\(size)) is refused",
                    code: 0x95, packet: Self.publish(topic: topic("size"), qos: 1, properties: [], payload: payload)))
        }
        return checks
    }

    private func topic(_ name: String) -> String { "\(prefix)/\(name)" }

    /// One connection writes `packet` and reads the answer.
    private func enforce(id: String, title: String, code: Int, packet: [UInt8]) throws(LimitsInterrupted) -> LimitCheck
    {
        var check = LimitCheck(id: id, kind: .rule, title: title, detail: "")
        let c: LimitsClient
        do {
            c = try client(id: "\(setup.baseID)-5-\(id)")
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch {
            check.detail = "could not connect: \(error)"
            return check
        }
        defer { c.disconnect() }
        var acknowledged = false
        c.client.onWatchedPacket = { type in if type == 4 || type == 5 { acknowledged = true } }
        c.client.watchForEnd()
        guard c.client.writeAroundQueue(packet) else {
            check.detail = "the packet could not be written"
            return check
        }
        try c.wait { acknowledged }
        let answer: Answer
        switch c.client.closeReason {
        case .serverDisconnect(let d)?: answer = .disconnect(d.reasonCode)
        case .failed?: answer = .closed
        default: answer = acknowledged ? .acknowledged : .nothing
        }
        let closed = answer == .closed || { if case .disconnect = answer { return true } else { return false } }()
        check.findings.append(
            .check(
                SpecRules.protocolErrorCloses, met: closed, strict: strict,
                expected: "the connection closed", observed: answer.text,
                text: closed ? "the broker closed the connection" : "the broker \(answer.text)"))
        if closed {
            check.findings.append(
                .check(
                    SpecRules.protocolErrorReason, met: answer == .disconnect(code), strict: strict,
                    expected: "DISCONNECT \(ReasonCode.describe(code)) first", observed: answer.text,
                    text: answer == .disconnect(code)
                        ? "with DISCONNECT \(ReasonCode.describe(code))"
                        : "without DISCONNECT \(ReasonCode.describe(code))"))
        }
        check.available = check.findings.passed
        check.detail = "the broker \(answer.text)"
        return check
    }

    /// An MQTT 5 PUBLISH with raw properties (packet id 1 at QoS > 0).
    static func publish(topic: String, qos: Int, properties: [UInt8], payload: [UInt8]) -> [UInt8] {
        let name = Array(topic.utf8)
        var body = [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
        if qos > 0 { body += [0x00, 0x01] }
        body += varint(properties.count) + properties + payload
        return [0x30 | UInt8(qos << 1)] + varint(body.count) + body
    }

    static func varint(_ value: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while v > 0
        return bytes
    }
}

extension SpecRules {
    static let protocolErrorCloses = SpecRule(
        basis: .must, clause: "MQTT 5 [MQTT-4.13.1-1]",
        quote:
            "When a Server detects a Malformed Packet or Protocol Error, and a Reason Code is given in the specification, it MUST close the Network Connection. (A Topic Alias over the maximum, a QoS over Maximum QoS and a packet over Maximum Packet Size are Protocol Errors, §3.3.2.3.4, §3.2.2.3.4, §3.2.2.3.6.)"
    )

    static let protocolErrorReason = SpecRule(
        basis: .should, clause: "MQTT 5 §4.13.1",
        quote:
            "In the case of an error in any other packet it SHOULD send a DISCONNECT packet containing the Reason Code before closing the Network Connection."
    )
}
