import Foundation
import Testing

/// `mqttctl rr`: MQTT 5 request/response against a responder built from
/// `mqttctl sub | while read ... | mqttctl pub`, next to the real mosquitto_rr.
@Suite struct RequestTests {
    /// A broker that logs subscriptions, so a test knows the responder listens.
    func broker() throws -> TestBroker {
        try TestBroker.named("format-compare", config: "log_type subscribe\n")
    }

    /// A shell responder: `mqttctl sub` prints each request as
    /// `response-topic|correlation-data|payload`; for each, `mqttctl pub` answers on
    /// the response topic with the correlation data copied (when there is one).
    /// `before` lines are published first, with another correlation. It serves
    /// `requests` requests, then ends by itself (-C), within 60 s at most (-W).
    func startResponder(
        _ broker: TestBroker, topic: String, requests: Int, answers: Int = 1, stranger: Bool = false
    ) throws -> RunningCommand {
        let id = "responder-\(UUID().uuidString.prefix(8))"
        let mqttctl = mqttctlPath()
        let connection = "-h 127.0.0.1 -p \(broker.port) -V 5"
        let reply = (1...answers).map { "\"re\($0): $body\"" }.joined(separator: " ")
        let script = """
            set -u
            '\(mqttctl)' sub \(connection) -i \(id) -t '\(topic)' -q 1 -C \(requests) -W 60 -F '%R|%D|%p' |
            while IFS='|' read -r topic id body; do
                args=()
                [ -n "$id" ] && args=(-D publish correlation-data "$id")
                \(stranger ? "'\(mqttctl)' pub \(connection) -t \"$topic\" -D publish correlation-data not-yours -m stranger -q 1" : "")
                printf '%s\\n' \(reply) | '\(mqttctl)' pub \(connection) -t "$topic" "${args[@]}" -l -q 1
            done
            """
        let responder = try RunningProgram("/bin/bash", ["-c", script])
        guard waitUntil(timeout: 15, { broker.log.contains("\(id) 1 \(topic)") }) else {
            throw BrokerError("the responder did not subscribe: \(responder.stderr)")
        }
        return responder
    }

    @Test func answersAResponderWrittenWithSubAndPub() throws {
        let broker = try broker()
        let topic = uniqueTopic()
        let responder = try startResponder(broker, topic: "\(topic)/req", requests: 1)
        let result = try mqttctl([
            "rr", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/req", "-e", "\(topic)/resp/1",
            "-m", "hello", "-q", "1", "--json", "-W", "30",
        ])
        #expect(result.status == 0, "\(result)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any], "\(result)")
        #expect(object["payload"] as? String == "re1: hello", "\(result)")
        #expect(object["topic"] as? String == "\(topic)/resp/1", "\(result)")
        let properties = try #require(object["properties"] as? [String: Any], "\(result)")
        let correlation = try #require(properties["correlation-data"] as? String, "\(result)")
        #expect(correlation.count == 32 && correlation.allSatisfy(\.isHexDigit), "\(correlation)")
        let rtt = try #require(object["rtt_ms"] as? Double, "\(result)")
        #expect(rtt > 0 && rtt < 30_000, "\(rtt)")
        #expect(responder.wait(timeout: 30).status == 0)
    }

    /// -C N responses, and a message with another correlation ignored and counted.
    @Test func countsResponsesAndIgnoresOthers() throws {
        let broker = try broker()
        let topic = uniqueTopic()
        let responder = try startResponder(broker, topic: "\(topic)/req", requests: 1, answers: 3, stranger: true)
        let result = try mqttctl([
            "rr", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/req", "-e", "\(topic)/resp",
            "-m", "job", "-C", "3", "-v", "-W", "30", "--rtt",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines == ["\(topic)/resp re1: job", "\(topic)/resp re2: job", "\(topic)/resp re3: job"],
            "\(result)")
        #expect(
            result.stderr.contains(
                "1 message on '\(topic)/resp' did not carry this request's correlation data and was ignored"),
            "\(result)")
        let rtts = result.stderrLines.filter { $0.contains("ms after the request") }
        #expect(rtts.count == 3, "\(result)")
        #expect(responder.wait(timeout: 30).status == 0)
    }

    /// The same responder answers mosquitto_rr (no correlation data) and mqttctl rr alike.
    @Test func printsWhatMosquittoRRPrints() throws {
        let broker = try broker()
        let topic = uniqueTopic()
        let responder = try startResponder(broker, topic: "\(topic)/req", requests: 8)
        for format in [[], ["-v"], ["-F", "%t|%p|%q|%l"], ["-N"]] {
            let arguments =
                [
                    "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/req", "-e", "\(topic)/resp", "-m",
                    "same", "-W", "30",
                ] + format
            let theirs = try runProgram("/usr/bin/mosquitto_rr", arguments)
            let ours = try mqttctl(["rr"] + arguments)
            #expect(
                theirs.status == 0 && ours.status == 0,
                "\(theirs)\n\(ours)\n\(broker.log.suffix(3000))\n\(responder.stdout)\n\(responder.stderr)")
            #expect(
                ours.stdout == theirs.stdout,
                "\(format): ours \(ours.stdout.debugDescription), theirs \(theirs.stdout.debugDescription)")
        }
        #expect(responder.wait(timeout: 30).status == 0)
    }

    @Test func timesOutWithStatus27() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let result = try mqttctl([
            "rr", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/nobody", "-e", "\(topic)/resp", "-m", "x",
            "-W", "1",
        ])
        #expect(result.status == 27, "\(result)")
        #expect(
            result.stderrLines.count == 1
                && result.stderr.contains("no response on '\(topic)/resp' within 1 s (-W): 0 of 1 received"),
            "\(result)")
    }

    /// MQTT 3.1.1 has no properties: the first message on the response topic is the response.
    @Test func mqtt311TakesTheFirstMessageOnTheResponseTopic() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let rr = try RunningCommand([
            "rr", "-d", "-V", "311", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/req",
            "-e", "\(topic)/resp", "-m", "x", "-W", "20",
        ])
        #expect(rr.waitFor(timeout: 15) { _, err in err.contains("sending PUBLISH") }, "\(rr.stderr)")
        let pub = try mqttctl([
            "pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(topic)/resp", "-m", "plain answer",
        ])
        #expect(pub.status == 0, "\(pub)")
        let result = rr.wait(timeout: 20)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "plain answer\n", "\(result)")
    }

    @Test func anMQTT311BrokerIsRefusedWithTheReason() throws {
        let peer = try ScriptedBroker(ScriptedBroker.Behaviour(acceptV5: false))
        let result = try mqttctl([
            "rr", "-h", "127.0.0.1", "-p", "\(peer.port)", "-t", "req", "-e", "resp", "-m", "x", "-W", "10",
        ])
        #expect(result.status == 4, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(
            result.stderr.contains("speaks only MQTT 3.1.1")
                && result.stderr.contains("rr needs MQTT 5 for request/response"), "\(result)")
    }

    @Test func aRejectedRequestIsStatus8() throws {
        let aclFile = FileManager.default.temporaryDirectory.appendingPathComponent("mqttctl-acl-\(getpid())")
        try "topic readwrite open/#\ntopic readwrite test/#\n".write(to: aclFile, atomically: true, encoding: .utf8)
        let broker = try TestBroker.named("acl", config: "acl_file \(aclFile.path)\n")
        let result = try mqttctl([
            "rr", "-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", "closed/req", "-e", "open/resp", "-m",
            "x", "-W", "10",
        ])
        #expect(result.status == 8, "\(result)")
        #expect(
            result.stderrLines.count == 1
                && result.stderr.contains("the broker rejected the request to 'closed/req': Not authorized (0x87)"),
            "\(result)")
    }

    @Test(arguments: [
        (["-t", "a", "-m", "x"], "no response topic given"),
        (["-t", "a", "-e", "r/#", "-m", "x"], "invalid response topic (-e)"),
        (["-t", "a", "-e", "r"], "no request given"),
        (["-t", "a", "-e", "r", "-m", "x", "-D", "publish", "response-topic", "other"], "the response topic is -e"),
        (["-t", "a", "-e", "r", "-m", "x", "-C", "0"], "invalid -C 0"),
        (["-e", "r", "-m", "x"], "no request topic given"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let result = try mqttctl(["rr", "-p", "\(try TestBroker.freePort())"] + arguments)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.contains(message), "\(result)")
    }
}
