import Foundation
import Testing

/// pub and sub against the real broker, through the binary.
@Suite struct PublishSubscribeTests {
    @Test(arguments: [0, 1, 2])
    func roundTripAtEachQoS(qos: Int) throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber([
            "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-C", "1", "-F", "%q %t %p",
        ])
        let pub = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)", "-m", "hello \(qos)"])
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 10)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "\(qos) \(topic) hello \(qos)\n")
    }

    @Test func retainedMessageReachesALaterSubscriber() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let pub = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-r", "-q", "1", "-m", "kept"])
        #expect(pub.status == 0, "\(pub)")
        let sub = try mqttctl(["sub", "-p", "\(broker.port)", "-t", topic, "-C", "1", "-W", "5", "-F", "%r %p"])
        #expect(sub.status == 0, "\(sub)")
        #expect(sub.stdout == "1 kept\n")
        // Clean up the retained message so reruns start fresh.
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-r", "-n"])
    }

    @Test func lineModeSendsEveryLineIncludingEmptyAndUnterminatedOnes() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-q", "1", "-C", "4", "-N", "-F", "[%p]"])
        let pub = try mqttctl(
            ["pub", "-p", "\(broker.port)", "-t", topic, "-q", "1", "-l"],
            stdin: Data("one\n\nthree\nlast without newline".utf8))
        #expect(pub.status == 0, "\(pub)")
        let result = sub.wait(timeout: 10)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "[one][][three][last without newline]")
    }

    @Test func verboseAndNoNewlineMatchMosquittoSub() throws {
        let broker = try TestBroker.standard()
        let topic = uniqueTopic()
        let sub = try startSubscriber(["-p", "\(broker.port)", "-t", topic, "-v", "-C", "2"])
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-m", "payload"])
        _ = try mqttctl(["pub", "-p", "\(broker.port)", "-t", topic, "-n"])
        let result = sub.wait(timeout: 10)
        #expect(result.stdout == "\(topic) payload\n\(topic) (null)\n", "\(result)")
    }
}
