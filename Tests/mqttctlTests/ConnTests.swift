import Foundation
import Testing

/// `mqttctl conn`: the CONNACK as data, against mosquitto, ejabberd and the
/// scripted peer, and `--stay` ending the ways a connection ends.
@Suite struct ConnTests {
    static let propertyKeys = [
        "session_expiry_interval", "receive_maximum", "maximum_qos", "retain_available", "maximum_packet_size",
        "assigned_client_identifier", "topic_alias_maximum", "reason_string", "wildcard_subscription_available",
        "subscription_identifiers_available", "shared_subscription_available", "server_keep_alive",
        "response_information", "server_reference", "authentication_method", "authentication_data",
    ]

    /// mosquitto 2.0.11's MQTT 5 CONNACK: Receive Maximum 20 and Topic Alias
    /// Maximum 10 are sent, the rest is absent and reported with its default.
    @Test func mqtt5ConnAckAsJSON() async throws {
        let broker = try TestBroker.standard()
        let junit = try JUnitSchema.reportFile()
        let result = try await runAsync(["conn", "-p", "\(broker.port)", "-V", "5", "--json", "--junit", junit.path])
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.string("command") == "conn")
        #expect(d.string("transport") == "tcp")
        #expect(d.object("connack")?.int("code") == 0)
        #expect(d.object("connack")?.bool("session_present") == false)
        let properties = try #require(d.object("properties"))
        #expect(Set(properties.keys) == Set(Self.propertyKeys), "\(properties.keys)")
        #expect(properties.object("receive_maximum")?.int("value") == 20, "\(properties)")
        #expect(properties.object("topic_alias_maximum")?.int("value") == 10)
        #expect(properties.object("maximum_qos")?.isNull("value") == true)
        #expect(properties.object("maximum_qos")?.int("effective") == 2)
        #expect(properties.object("server_keep_alive")?.int("effective") == 60)
        #expect(properties.object("assigned_client_identifier")?.string("value")?.hasPrefix("auto-") == true)
        let timing = try #require(d.object("timing_ms"))
        #expect(
            (timing.number("connack") ?? -1) >= 0 && (timing.number("total") ?? -1) >= (timing.number("connack") ?? 0),
            "\(timing)")
        #expect(timing.isNull("tls_handshake"))
        #expect(d.isNull("stay"))
        #expect(try JUnitSchema.problems(in: junit) == nil)
    }

    @Test func mqtt311TextReport() async throws {
        let broker = try TestBroker.standard()
        let result = try await runAsync(["conn", "-p", "\(broker.port)", "-i", uniqueID("conn")])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines.first?.hasPrefix("CONNACK from localhost:\(broker.port) (MQTT 3.1.1, client id conn-")
                == true, "\(result)")
        #expect(result.stdout.contains("accepted (return code 0), session present 0"), "\(result)")
        #expect(result.stdoutLines.count == 2, "no MQTT 5 properties for 3.1.1: \(result)")
        #expect(result.stderr.isEmpty)
    }

    /// A refusal is reported as data, then the command fails with its status.
    @Test(arguments: ["311", "5"])
    func refusalIsReportedThenFails(version: String) async throws {
        let broker = try SecureBrokers.passwords()
        let result = try await runAsync(["conn", "-p", "\(broker.port)", "-V", version, "--json"])
        #expect(result.status == 5, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.object("connack")?.bool("accepted") == false)
        #expect(d.object("connack")?.int("code") == (version == "5" ? 0x87 : 5), "\(d)")
        #expect(result.stderr.contains("not authorised") || result.stderr.contains("Not authorized"), "\(result)")
    }

    @Test func tlsHandshakeIsTimed() async throws {
        let certs = try TestCertificates.get()
        let broker = try SecureBrokers.tls()
        let result = try await runAsync([
            "conn", "-h", "localhost", "-p", "\(broker.port)", "--cafile", certs.caFile, "--json",
        ])
        #expect(result.status == 0, "\(result)")
        let d = try jsonDocument(result)
        #expect(d.string("transport") == "tls")
        #expect((d.object("timing_ms")?.number("tls_handshake") ?? -1) > 0, "\(d)")
    }

    /// Properties mosquitto never sends, from the scripted peer.
    @Test func maximumQoSAndServerKeepAliveFromThePeer() async throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(serverKeepAlive: 7, maximumQoS: 1))
        let result = try await runAsync(["conn", "-p", "\(peer.port)", "-V", "5", "--json"])
        #expect(result.status == 0, "\(result)")
        let properties = try #require(try jsonDocument(result).object("properties"))
        #expect(properties.object("maximum_qos")?.int("value") == 1)
        #expect(properties.object("server_keep_alive")?.int("value") == 7)
        let text = try await runAsync(["conn", "-p", "\(peer.port)", "-V", "5"])
        #expect(text.stdout.contains("maximum qos                         1"), "\(text)")
        #expect(text.stdout.contains("retain available                    - (absent: 1, available)"), "\(text)")
    }

    /// --stay: a take-over ends the connection; mosquitto just closes it,
    /// ejabberd sends DISCONNECT 0x8E with a reason string. Exit 7 either way.
    @Test func stayReportsATakeOver() async throws {
        let mosquitto = try TestBroker.standard()
        let ejabberd = try TestEjabberd.standard()
        for (port, extra, closedBy) in [
            (mosquitto.port, [String](), "fin"), (ejabberd.port, TestEjabberd.credentials, "disconnect"),
        ] {
            let id = uniqueID("stay")
            let stayer = try RunningCommand(
                ["conn", "-p", "\(port)", "-V", "5", "-i", id, "--stay", "--json", "-d"] + extra)
            #expect(stayer.waitFor(timeout: 15) { _, err in err.contains("received CONNACK") }, "\(stayer.stderr)")
            let other = try await runAsync(["conn", "-p", "\(port)", "-V", "5", "-i", id] + extra)
            #expect(other.status == 0, "\(other)")
            let result = await stayer.finish(timeout: 15)
            #expect(result.status == 7, "\(result)")
            let stay = try #require(try jsonDocument(result).object("stay"))
            #expect(stay.string("closed_by") == closedBy, "\(stay)")
            if closedBy == "disconnect" {
                #expect(stay.int("disconnect_reason") == 0x8E)
                #expect(stay.string("disconnect_reason_string") == "Replaced by another connection", "\(stay)")
            }
            #expect(result.stderr.contains("the broker ended the connection after"), "\(result)")
        }
    }

    /// --stay sends PINGREQs as the keep-alive asks; a broker that answers none
    /// is reported (status 11), and -W ends a quiet stay cleanly with status 0.
    @Test func stayPingsAndNoticesAMissingPingResponse() async throws {
        let deaf = try ScriptedBroker(ScriptedBroker.Behaviour(pings: .ignore))
        let result = try await runAsync(["conn", "-p", "\(deaf.port)", "-k", "5", "--stay", "--json"], timeout: 40)
        #expect(result.status == 11, "\(result)")
        let stay = try #require(try jsonDocument(result).object("stay"))
        #expect(stay.string("closed_by") == "no_pingresp")
        #expect(stay.int("pings_sent") == 1 && stay.int("ping_responses") == 0, "\(stay)")

        let broker = try TestBroker.standard()
        let quiet = try await runAsync(
            ["conn", "-p", "\(broker.port)", "-k", "5", "--stay", "-W", "6", "--json"], timeout: 40)
        #expect(quiet.status == 0, "\(quiet)")
        let quietStay = try #require(try jsonDocument(quiet).object("stay"))
        #expect(quietStay.string("closed_by") == "client")
        #expect(quietStay.int("pings_sent") == 1 && quietStay.int("ping_responses") == 1, "\(quietStay)")
    }

    @Test(arguments: [["-W", "5"], ["--stay", "-W", "0"], ["-D", "publish", "content-type", "x"]])
    func usageErrorsExit2(arguments: [String]) async throws {
        let result = try await runAsync(["conn", "-p", "1"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("mqttctl: error: "), "\(result)")
    }
}
