import Mosquitto

/// One check of `probe limits`: an optional feature (present or absent), a
/// measured limit, or a rule the broker must follow, with what was seen.
struct LimitCheck {
    enum Kind: String { case feature, limit, rule }

    /// Stable name, also what --require takes ("qos2", "retain", "no-local"...).
    let id: String
    let kind: Kind
    let title: String
    /// Features and rules: whether it works / holds; nil when not checked.
    var available: Bool?
    /// Limits: the measured value.
    var value: Int?
    var detail: String
    var findings: [Finding] = []
}

/// The checks of `probe limits` for one protocol version, run one after the
/// other on the shared loop (each takes milliseconds; the few that must wait
/// for something not to happen wait half a second). Every topic lives under
/// `prefix`; every retained message it creates is removed again.
struct LimitsProbe {
    let setup: ProbeSetup
    let prefix: String
    let maxPayload: Int
    let strict: Bool
    /// How long one step (a SUBACK, an acknowledgement, a message) may take.
    let stepTimeout: Double
    /// How long a message that must not come is waited for.
    static let negativeWait = 0.5

    var version: ProtocolVersion { setup.version }

    static let features = [
        "qos0", "qos1", "qos2", "retain", "wildcards", "shared", "sys", "no-local", "retain-as-published",
        "retain-handling", "subscription-identifiers", "message-expiry", "receive-maximum",
    ]

    func run() throws(LimitsInterrupted) -> (connAck: ConnAck?, checks: [LimitCheck]) {
        let main: LimitsClient
        do {
            main = try client(id: "\(setup.baseID)-\(version == .v5 ? "5" : "3")-lim")
        } catch let failure as CommandFailure {
            return (
                nil,
                [LimitCheck(id: "connect", kind: .rule, title: "connect", available: false, detail: failure.message)]
            )
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch {
            return (nil, [])
        }
        defer { main.disconnect() }
        var checks: [LimitCheck] = []
        for qos in 0...2 { checks.append(try roundTrip(main, qos: qos)) }
        checks.append(try retained(main))
        checks.append(try wildcards(main))
        checks.append(try shared(main))
        checks.append(try sys(main))
        checks.append(try retainFlagOnLive(main))
        if version == .v5 {
            checks.append(try noLocal(main))
            checks.append(try retainHandling(main))
            checks.append(try subscriptionIdentifiers(main))
            checks.append(try messageExpiry(main))
            checks.append(try receiveMaximum(main))
        }
        checks += try enforcement(main.client.connAck)
        checks.append(try longestTopic(main))
        checks.append(try largestPayload(main))
        checks += try clientIDs()
        return (main.client.connAck, checks)
    }

    // MARK: Connections

    /// A connected client; `configure` changes the probe's base options.
    func client(id: String, _ configure: (inout ConnectOptions) -> Void = { _ in }) throws -> LimitsClient {
        let mqtt = try setup.context.makeClient(id: id) { options in
            options.protocolVersion = version
            configure(&options)
        }
        let client = LimitsClient(client: mqtt, loop: setup.context.loop, timeout: stepTimeout)
        try setup.context.connect(mqtt)
        try client.wait(setup.options.connectTimeout) { mqtt.state != .connecting }
        guard mqtt.state == .connected else {
            setup.context.loop.remove(mqtt)
            throw ClientSession.failure(for: mqtt)
        }
        return client
    }

    /// Connects and disconnects with this client id: accepted, or why not.
    func tryClientID(_ id: String) throws(LimitsInterrupted) -> String? {
        do {
            let c = try client(id: id)
            c.disconnect()
            return nil
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch let failure as CommandFailure {
            return failure.message
        } catch {
            return "\(error)"
        }
    }

    private func topic(_ name: String) -> String { "\(prefix)/\(name)" }

    // MARK: Features

    func roundTrip(_ c: LimitsClient, qos: Int) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("qos\(qos)")
        var check = LimitCheck(id: "qos\(qos)", kind: .feature, title: "QoS \(qos) round trip", detail: "")
        guard let granted = try c.subscribe([t], qos: qos)?.first else {
            check.available = false
            check.detail = "no SUBACK"
            return check
        }
        let from = c.messages.count
        let sent = try c.publish(t, Array("qos \(qos)".utf8), qos: qos)
        let message = try c.message(on: t, after: from)
        check.available = message?.qos == qos && granted == Int32(qos)
        check.detail =
            "subscription granted \(granted >= 0x80 ? "refused (0x\(ReasonCode.hex2(Int(granted))))" : "QoS \(granted)"); "
            + (message.map { "delivered at QoS \($0.qos)" } ?? "not delivered (\(describe(sent)))")
        try c.unsubscribe([t])
        return check
    }

    func retained(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("retain")
        var check = LimitCheck(id: "retain", kind: .feature, title: "retained messages", detail: "")
        let sent = try c.publish(t, Array("retained".utf8), qos: 1, retain: true)
        let from = c.messages.count
        _ = try c.subscribe([t], qos: 1)
        let message = try c.message(on: t, after: from)
        check.available = message?.retain == true
        check.detail =
            message.map { "a new subscriber got it, retain flag \($0.retain ? 1 : 0)" }
            ?? "a new subscriber got nothing (\(describe(sent)))"
        try c.unsubscribe([t])
        _ = try c.publish(t, [], qos: 1, retain: true)  // removes it
        return check
    }

    func wildcards(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let plus = topic("w/+/c")
        let hash = topic("h/#")
        var check = LimitCheck(id: "wildcards", kind: .feature, title: "wildcards + and #", detail: "")
        let granted = try c.subscribe([plus, hash], qos: 0) ?? []
        let from = c.messages.count
        _ = try c.publish(topic("w/b/c"), Array("plus".utf8), qos: 0)
        _ = try c.publish(topic("h/x/y"), Array("hash".utf8), qos: 0)
        let a = try c.message(on: topic("w/b/c"), after: from)
        let b = try c.message(on: topic("h/x/y"), after: from)
        check.available = a != nil && b != nil
        check.detail =
            "+ \(a != nil ? "matched" : "did not match"), # \(b != nil ? "matched" : "did not match")"
            + (granted.contains { $0 >= 0x80 } ? " (SUBACK refused a filter)" : "")
        try c.unsubscribe([plus, hash])
        return check
    }

    func shared(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("s")
        let filter = "$share/mqttctl/\(t)"
        var check = LimitCheck(id: "shared", kind: .feature, title: "shared subscriptions ($share/...)", detail: "")
        guard let granted = try c.subscribe([filter], qos: 0)?.first, c.isOpen else {
            check.available = false
            check.detail = c.isOpen ? "no SUBACK" : "the broker closed the connection on SUBSCRIBE \(filter)"
            try reconnectIfClosed(c)
            return check
        }
        let from = c.messages.count
        _ = try c.publish(t, Array("shared".utf8), qos: 0)
        let message = try c.message(on: t, after: from)
        check.available = granted < 0x80 && message != nil
        check.detail =
            granted >= 0x80
            ? "SUBACK refused it (0x\(ReasonCode.hex2(Int(granted))))"
            : (message != nil ? "delivered" : "not delivered")
        try c.unsubscribe([filter])
        return check
    }

    func sys(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        var check = LimitCheck(id: "sys", kind: .feature, title: "$SYS topics", detail: "")
        let from = c.messages.count
        _ = try c.subscribe(["$SYS/#"], qos: 0)
        try c.wait(2) { c.messages.dropFirst(from).contains { $0.topic.hasPrefix("$SYS/") } }
        let first = c.messages.dropFirst(from).first { $0.topic.hasPrefix("$SYS/") }
        check.available = first != nil
        check.detail = first.map { "e.g. \($0.topic)" } ?? "nothing on $SYS/# within 2 s"
        try c.unsubscribe(["$SYS/#"])
        return check
    }

    // MARK: Rules

    /// A live message is forwarded with retain 0 (3.1.1; MQTT 5 without
    /// retain-as-published) and, MQTT 5 with retain-as-published, with the flag it had.
    func retainFlagOnLive(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let plain = topic("live/plain")
        let rap = topic("live/rap")
        var check = LimitCheck(
            id: version == .v5 ? "retain-as-published" : "retain-flag", kind: .rule,
            title: version == .v5
                ? "retain flag of live messages, retain-as-published" : "retain flag of live messages",
            detail: "")
        _ = try c.subscribe([plain], qos: 1)
        if version == .v5 { _ = try c.subscribe([rap], qos: 1, options: .retainAsPublished) }
        let from = c.messages.count
        _ = try c.publish(plain, Array("live".utf8), qos: 1, retain: true)
        let a = try c.message(on: plain, after: from)
        var b: LimitsClient.Message?
        if version == .v5 {
            _ = try c.publish(rap, Array("live".utf8), qos: 1, retain: true)
            b = try c.message(on: rap, after: from)
        }
        check.findings.append(
            .check(
                SpecRules.retainFlagOnLiveMessages(version), met: a?.retain == false, strict: strict,
                expected: "retain 0 on a live message",
                observed: a.map { "retain \($0.retain ? 1 : 0)" } ?? "not delivered",
                text: a?.retain == false
                    ? "live messages are forwarded with retain 0"
                    : "a live message was forwarded with retain \(a?.retain == true ? 1 : 0)"))
        if version == .v5 {
            check.findings.append(
                .check(
                    SpecRules.retainAsPublished, met: b?.retain == true, strict: strict,
                    expected: "retain 1 with retain-as-published",
                    observed: b.map { "retain \($0.retain ? 1 : 0)" } ?? "not delivered",
                    text: b?.retain == true
                        ? "retain-as-published keeps the flag" : "retain-as-published did not keep the flag"))
        }
        check.available = check.findings.passed
        check.detail =
            "without retain-as-published: \(a.map { "retain \($0.retain ? 1 : 0)" } ?? "not delivered")"
            + (version == .v5 ? "; with it: \(b.map { "retain \($0.retain ? 1 : 0)" } ?? "not delivered")" : "")
        try c.unsubscribe(version == .v5 ? [plain, rap] : [plain])
        _ = try c.publish(plain, [], qos: 1, retain: true)
        if version == .v5 { _ = try c.publish(rap, [], qos: 1, retain: true) }
        return check
    }

    func noLocal(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("nolocal")
        var check = LimitCheck(id: "no-local", kind: .rule, title: "no-local", detail: "")
        _ = try c.subscribe([t], qos: 0, options: .noLocal)
        let from = c.messages.count
        _ = try c.publish(t, Array("own".utf8), qos: 1)
        let echo = try c.message(on: t, after: from, within: Self.negativeWait)
        check.findings.append(
            .check(
                SpecRules.noLocal, met: echo == nil, strict: strict, expected: "our own message not forwarded to us",
                observed: echo == nil ? "not forwarded within \(Numbers.short(Self.negativeWait)) s" : "forwarded",
                text: echo == nil ? "no-local holds" : "our own message came back despite no-local"))
        check.available = echo == nil
        check.detail = echo == nil ? "our own message did not come back" : "our own message came back"
        try c.unsubscribe([t])
        return check
    }

    func retainHandling(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("rh/x")
        var check = LimitCheck(id: "retain-handling", kind: .rule, title: "retain handling 0, 1 and 2", detail: "")
        _ = try c.publish(t, Array("retained".utf8), qos: 1, retain: true)
        func delivered(
            _ filter: String, _ options: SubscriptionOptions, negative: Bool
        ) throws(LimitsInterrupted) -> Bool {
            let from = c.messages.count
            _ = try c.subscribe([filter], qos: 0, options: options)
            return try c.message(on: t, after: from, within: negative ? Self.negativeWait : nil) != nil
        }
        let h0 = try delivered(t, [], negative: false)
        let h1Existing = try delivered(t, .sendRetainedIfNew, negative: true)
        let h1New = try delivered(topic("rh/#"), .sendRetainedIfNew, negative: false)
        let h2 = try delivered(topic("rh/+"), .sendRetainedNever, negative: true)
        check.findings = [
            .check(
                SpecRules.retainHandling0, met: h0, strict: strict, expected: "retained message sent",
                observed: h0 ? "sent" : "not sent",
                text: h0
                    ? "retain handling 0 sends the retained message"
                    : "retain handling 0 did not send the retained message"),
            .check(
                SpecRules.retainHandling1, met: !h1Existing && h1New, strict: strict,
                expected: "sent for a new subscription, not for an existing one",
                observed: "new: \(h1New ? "sent" : "not sent"), existing: \(h1Existing ? "sent" : "not sent")",
                text: !h1Existing && h1New
                    ? "retain handling 1 sends only for a new subscription" : "retain handling 1 was not followed"),
            .check(
                SpecRules.retainHandling2, met: !h2, strict: strict, expected: "not sent",
                observed: h2 ? "sent" : "not sent",
                text: h2 ? "retain handling 2 still sent the retained message" : "retain handling 2 sends nothing"),
        ]
        check.available = check.findings.passed
        check.detail =
            "0: \(h0 ? "sent" : "not sent"); 1 existing: \(h1Existing ? "sent" : "not sent"), new: \(h1New ? "sent" : "not sent"); 2: \(h2 ? "sent" : "not sent")"
        try c.unsubscribe([t, topic("rh/#"), topic("rh/+")])
        _ = try c.publish(t, [], qos: 1, retain: true)
        return check
    }

    func subscriptionIdentifiers(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("subid")
        var check = LimitCheck(
            id: "subscription-identifiers", kind: .rule, title: "subscription identifiers", detail: "")
        let available = c.client.connAck?.properties.first(0x29) != .byte(0)
        var properties = MQTTProperties()
        properties.append(MQTTProperties.subscriptionIdentifier, .varint(7))
        guard let granted = try c.subscribe([t], qos: 0, properties: properties)?.first, granted < 0x80 else {
            check.available = false
            check.detail =
                available ? "the subscription with identifier 7 was refused" : "not available (CONNACK), refused"
            return check
        }
        let from = c.messages.count
        _ = try c.publish(t, Array("id".utf8), qos: 0)
        let message = try c.message(on: t, after: from)
        let ids = message?.properties.all(MQTTProperties.subscriptionIdentifier) ?? []
        let echoed = ids.contains(.varint(7))
        check.findings.append(
            .check(
                SpecRules.subscriptionIdentifier, met: echoed, strict: strict, expected: "identifier 7 on the message",
                observed: message == nil
                    ? "not delivered" : "identifiers \(ids.map { ConnFacts.json($0).serialized() })",
                text: echoed
                    ? "the subscription identifier comes with the message"
                    : "the subscription identifier did not come with the message"))
        check.available = echoed
        check.detail = echoed ? "identifier 7 echoed" : "identifier not echoed"
        try c.unsubscribe([t])
        return check
    }

    func messageExpiry(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("expiry")
        var check = LimitCheck(
            id: "message-expiry", kind: .rule, title: "message expiry of a retained message", detail: "")
        var properties = MQTTProperties()
        properties.append(MQTTProperties.messageExpiryInterval, .uint32(1))
        _ = try c.publish(t, Array("expires".utf8), qos: 1, retain: true, properties: properties)
        // Nothing to wait for but the expiry itself: two seconds for a one-second expiry.
        try c.wait(2.1) { false }
        let from = c.messages.count
        _ = try c.subscribe([t], qos: 0)
        let stale = try c.message(on: t, after: from, within: Self.negativeWait)
        check.findings.append(
            .check(
                SpecRules.messageExpiry, met: stale == nil, strict: strict, expected: "not delivered after 1 s expiry",
                observed: stale == nil ? "not delivered 2 s later" : "delivered 2 s later",
                text: stale == nil
                    ? "an expired retained message is not delivered" : "an expired retained message was still delivered"
            ))
        check.available = stale == nil
        check.detail = stale == nil ? "expired after 1 s as asked" : "still delivered after its 1 s expiry"
        try c.unsubscribe([t])
        _ = try c.publish(t, [], qos: 1, retain: true)
        return check
    }

    /// A subscriber that announces Receive Maximum 2 and then acknowledges
    /// nothing must get at most two unacknowledged QoS 1 messages.
    func receiveMaximum(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("rm")
        var check = LimitCheck(id: "receive-maximum", kind: .rule, title: "Receive Maximum of the client", detail: "")
        let slow: LimitsClient
        do {
            slow = try client(id: "\(setup.baseID)-5-rm") { $0.receiveMaximum = 2 }
        } catch let interrupted as LimitsInterrupted {
            throw interrupted
        } catch {
            check.detail = "could not connect the slow subscriber: \(error)"
            return check
        }
        defer { slow.disconnect() }
        _ = try slow.subscribe([t], qos: 1)
        var publishes = 0
        slow.client.onWatchedPacket = { if $0 == 3 { publishes += 1 } }
        slow.client.watchForEnd()
        for n in 1...5 { _ = try c.publish(t, Array("m\(n)".utf8), qos: 1) }
        try slow.wait(Self.negativeWait) { publishes > 2 }
        check.findings.append(
            .check(
                SpecRules.receiveMaximum, met: publishes <= 2, strict: strict,
                expected: "at most 2 unacknowledged QoS 1 messages", observed: "\(publishes) sent",
                text: publishes <= 2
                    ? "Receive Maximum is honoured"
                    : "the broker sent \(publishes) unacknowledged QoS 1 messages to a client with Receive Maximum 2"))
        check.available = publishes <= 2
        check.detail = "\(publishes) of 5 QoS 1 messages sent to a client that acknowledges none (Receive Maximum 2)"
        return check
    }

    // MARK: Limits

    func longestTopic(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let base = topic("t/")
        let fixed = base.utf8.count
        func accepted(_ length: Int) throws(LimitsInterrupted) -> Bool {
            try reconnectIfClosed(c)
            let t = base + String(repeating: "x", count: max(1, length - fixed))
            guard let granted = try c.subscribe([t], qos: 1)?.first, granted < 0x80 else { return false }
            let from = c.messages.count
            guard case .acknowledged(let reason) = try c.publish(t, Array("long".utf8), qos: 1), reason < 0x80 else {
                return false
            }
            let ok = try c.message(on: t, after: from) != nil
            try c.unsubscribe([t])
            return ok
        }
        let longest = try Self.largest(lower: fixed + 1, upper: 65535, accepted)
        var check = LimitCheck(
            id: "topic-length", kind: .limit, title: "longest topic (publish and subscribe)", detail: "")
        check.value = longest
        check.detail = longest.map { "\($0) bytes" } ?? "not even \(fixed + 1) bytes"
        return check
    }

    func largestPayload(_ c: LimitsClient) throws(LimitsInterrupted) -> LimitCheck {
        let t = topic("payload")
        _ = try c.subscribe([t], qos: 1)
        func accepted(_ size: Int) throws(LimitsInterrupted) -> Bool {
            try reconnectIfClosed(c)
            let from = c.messages.count
            guard case .acknowledged(let reason) = try c.publish(t, [UInt8](repeating: 0x61, count: size), qos: 1),
                reason < 0x80
            else { return false }
            return try c.message(on: t, after: from)?.payload.count == size
        }
        let largest = try Self.largest(lower: 0, upper: maxPayload, accepted)
        try c.unsubscribe([t])
        var check = LimitCheck(
            id: "payload-size", kind: .limit, title: "largest payload (up to --max-payload)", detail: "")
        check.value = largest
        check.detail =
            largest.map {
                $0 == maxPayload ? "\($0) bytes (the --max-payload cap: the broker may take more)" : "\($0) bytes"
            } ?? "not even an empty payload"
        return check
    }

    /// The longest client id and the characters refused; the MUST that 23
    /// alphanumeric characters are allowed.
    func clientIDs() throws(LimitsInterrupted) -> [LimitCheck] {
        let stem = "mqttctl\(RunID.make())"
        let plain = String(("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789").prefix(23))
        let refusal23 = try tryClientID(plain)
        var rule = LimitCheck(
            id: "client-id-23", kind: .rule, title: "23 alphanumeric characters in a client id", detail: "")
        rule.findings.append(
            .check(
                SpecRules.clientIDAllowed(version), met: refusal23 == nil, strict: strict, expected: "accepted",
                observed: refusal23 ?? "accepted", text: refusal23 == nil ? "accepted" : "refused: \(refusal23 ?? "")"))
        rule.available = refusal23 == nil
        rule.detail = refusal23.map { "refused: \($0)" } ?? "accepted"

        let longest = try Self.largest(lower: stem.utf8.count, upper: 65535) {
            (length: Int) throws(LimitsInterrupted) -> Bool in
            try tryClientID(stem + String(repeating: "x", count: length - stem.utf8.count)) == nil
        }
        var limit = LimitCheck(id: "client-id-length", kind: .limit, title: "longest client id", detail: "")
        limit.value = longest
        limit.detail = longest.map { "\($0) bytes" } ?? "not even \(stem.utf8.count) bytes"

        var refused: [String] = []
        for (name, insert) in [
            ("space", " "), ("'/'", "/"), ("'+'", "+"), ("'#'", "#"), ("':'", ":"), ("'-'", "-"), ("'_'", "_"),
            ("'.'", "."), ("non-ASCII (é)", "é"), ("emoji", "😀"),
        ] {
            if try tryClientID(stem + insert + "x") != nil { refused.append(name) }
        }
        var characters = LimitCheck(
            id: "client-id-characters", kind: .limit, title: "characters refused in client ids", detail: "")
        characters.value = refused.count
        characters.detail = refused.isEmpty ? "none of space / + # : - _ . é 😀" : refused.joined(separator: ", ")
        return [rule, limit, characters]
    }

    /// The largest value in lower...upper for which `accepted` holds, assuming
    /// it holds up to some point and not after (nil: not even `lower`). Tries
    /// `upper` first: most brokers take it, and that is one step.
    static func largest(
        lower: Int, upper: Int, _ accepted: (Int) throws(LimitsInterrupted) -> Bool
    ) throws(LimitsInterrupted) -> Int? {
        if try accepted(upper) { return upper }
        guard try accepted(lower) else { return nil }
        var good = lower
        var bad = upper
        while bad - good > 1 {
            let middle = good + (bad - good) / 2
            if try accepted(middle) { good = middle } else { bad = middle }
        }
        return good
    }

    private func reconnectIfClosed(_ c: LimitsClient) throws(LimitsInterrupted) {
        guard c.client.state == .closed else { return }
        do { try c.client.reconnect() } catch { return }
        try c.wait { c.client.state != .connecting }
    }

    private func describe(_ outcome: LimitsClient.PublishOutcome) -> String {
        switch outcome {
        case .acknowledged(let reason):
            return reason < 0x80 ? "publish acknowledged" : "publish refused: \(ReasonCode.describe(reason))"
        case .notSent(let why): return "not sent: \(why)"
        case .timedOut: return "no acknowledgement"
        case .closed: return "the connection closed"
        }
    }
}
