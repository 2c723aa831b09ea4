import Foundation
import Testing

/// Nothing lost: QoS 1/2 publishes succeed only when acknowledged; sub -C hands
/// over exactly N messages; wills fire after an abnormal end only.
@Suite struct DeliveryTests {
    @Test(arguments: [(1, 100_000), (2, 30_000)])
    func lineModeDeliversEveryLineAtVolume(qos: Int, lines: Int) throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let input = (1...lines).map(String.init).joined(separator: "\n") + "\n"
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-C", "\(lines)"])
        // -M 7 makes libmosquitto reuse every message id thousands of times.
        let pub = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-l", "-M", "7"],
            stdin: Data(input.utf8), timeout: 300)
        #expect(pub.status == 0, "\(pub)")
        #expect(pub.stderr.isEmpty, "\(pub)")
        let result = sub.wait(timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == input, "received \(result.stdoutLines.count) lines")
    }

    @Test func repeatPublishesEveryCopy() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-q", "1", "-C", "50"])
        let pub = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-q", "1", "-m", "x", "--repeat", "50"])
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 30)
        #expect(result.stdout == String(repeating: "x\n", count: 50), "\(result)")
    }

    @Test func repeatDelaySpacesThePublishes() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let start = Date()
        let pub = try mqttctl([
            "pub", "-p", "\(broker.port)", "-t", topic, "-m", "x", "--repeat", "3", "--repeat-delay", "0.5",
        ])
        #expect(pub.status == 0, "\(pub)")
        #expect(Date().timeIntervalSince(start) >= 1.0, "two delays of 0.5 s between three messages")
    }

    @Test(arguments: [(1, "311"), (1, "5"), (2, "311"), (2, "5")])
    func countHandsOverExactlyNFromAPersistentSession(qos: Int, version: String) throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let id = "exact-\(qos)-\(UUID().uuidString.prefix(8))"
        // Create the persistent session, then queue 30 messages while it is offline
        // (more than the broker keeps in flight: 20).
        let create = try mqttctl([
            "sub", "-p", "\(broker.port)", "-V", version, "-c", "-i", id, "-q", "\(qos)", "-t", topic, "-E",
        ])
        #expect(create.status == 0, "\(create)")
        let input = (1...30).map(String.init).joined(separator: "\n")
        let pub = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-l"], stdin: Data(input.utf8))
        #expect(pub.status == 0, "\(pub)")
        // Take 3, then 5, then the rest: nothing lost, nothing twice.
        var received: [String] = []
        for count in [3, 5, 22] {
            let part = try mqttctl([
                "sub", "-p", "\(broker.port)", "-V", version, "-c", "-i", id, "-q", "\(qos)", "-t", topic,
                "-C", "\(count)", "-W", "10",
            ])
            #expect(part.status == 0, "\(part)")
            #expect(part.stdoutLines.count == count, "\(part)")
            received += part.stdoutLines
        }
        #expect(received == (1...30).map(String.init))
        // The session is empty now.
        let rest = try mqttctl([
            "sub", "-p", "\(broker.port)", "-V", version, "-c", "-i", id, "-q", "\(qos)", "-t", topic, "-W", "1",
        ])
        #expect(rest.status == 27)
        #expect(rest.stdout.isEmpty, "\(rest)")
    }

    @Test func unacknowledgedMessagesFailWithTheirCount() throws {
        // A server that accepts the connection but never sends PUBACK.
        let peer = try RawPeer(.connackThenIgnore)
        let start = Date()
        let result = try mqttctl([
            "pub", "-p", "\(peer.port)", "-t", "a", "-q", "1", "-m", "x", "--repeat", "5",
            "--ack-timeout", "1",
        ])
        #expect(result.status == 8, "\(result)")
        #expect(result.stderr.contains("5 of 5 messages were not acknowledged"), "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(Date().timeIntervalSince(start) < 60)
    }

    @Test func lostConnectionDuringLineModeSaysHowManyWereNotAcknowledged() throws {
        let broker = try TestBroker(name: "pub-lost")
        let topic = uniqueTopic()
        let pub = try RunningCommand(
            ["pub", "-p", "\(broker.port)", "-t", topic, "-q", "1", "-l"], keepStdinOpen: true)
        pub.writeStdin("one\ntwo\n")
        // Wait until the broker has seen the client, then take the broker away.
        #expect(waitUntil(timeout: 10) { broker.log.contains("New client connected") })
        broker.stop()
        pub.writeStdin("three\n")
        let result = pub.wait(timeout: 30)
        #expect(result.status == 8 || result.status == 7, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.contains("lost") || result.stderr.contains("not acknowledged"), "\(result)")
    }

    @Test(arguments: ["311", "5"])
    func willIsPublishedAfterAnAbnormalEndOnly(version: String) throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let watcher = try startSubscriber(["-p", "\(broker.port)", "-t", "\(topic)/will/#", "-v"])

        // A clean end (SIGINT → DISCONNECT): no will.
        let clean = try startSubscriber([
            "-p", "\(broker.port)", "-V", version, "-t", "\(topic)/x",
            "--will-topic", "\(topic)/will/clean", "--will-payload", "clean-gone",
        ])
        clean.signal(SIGINT)
        let cleanResult = clean.wait(timeout: 10)
        #expect(cleanResult.status == 130, "\(cleanResult)")

        // An abnormal end (SIGKILL, no DISCONNECT): the will.
        let killed = try startSubscriber([
            "-p", "\(broker.port)", "-V", version, "-t", "\(topic)/x",
            "--will-topic", "\(topic)/will/killed", "--will-payload", "killed-gone", "--will-qos", "1",
        ])
        killed.signal(SIGKILL)
        _ = killed.wait(timeout: 10)

        #expect(watcher.waitFor(timeout: 10) { out, _ in out.contains("killed-gone") }, "\(watcher.stdout)")
        // The will of the abnormal end arrived after the clean end happened, so
        // a will from the clean end would have arrived before it.
        #expect(watcher.stdout == "\(topic)/will/killed killed-gone\n", "\(watcher.stdout)")
        watcher.signal(SIGTERM)
        #expect(watcher.wait(timeout: 10).status == 143)
    }

    @Test func mqtt5PropertiesGoBothWays() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-V", "5", "-t", topic, "-C", "1", "--json"])
        let pub = try mqttctl([
            "pub", "-p", "\(broker.port)", "-V", "5", "-t", topic, "-m", "{}", "-q", "1",
            "-D", "publish", "content-type", "application/json",
            "-D", "publish", "user-property", "origin", "ci",
            "-D", "publish", "user-property", "origin", "again",
            "-D", "publish", "message-expiry-interval", "120",
            "-D", "publish", "response-topic", "\(topic)/reply",
            "-D", "publish", "correlation-data", "abc",
            "-D", "publish", "payload-format-indicator", "1",
        ])
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 10)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        let properties = try #require(object["properties"] as? [String: Any], "\(result.stdout)")
        #expect(properties["content-type"] as? String == "application/json")
        #expect(properties["response-topic"] as? String == "\(topic)/reply")
        #expect(properties["correlation-data"] as? String == "abc")
        #expect(properties["payload-format-indicator"] as? Int == 1)
        let expiry = try #require(properties["message-expiry-interval"] as? Int)
        #expect(expiry <= 120 && expiry >= 100)
        let user = try #require(properties["user-properties"] as? [[String: String]])
        #expect(user == [["key": "origin", "value": "ci"], ["key": "origin", "value": "again"]])
    }
}
