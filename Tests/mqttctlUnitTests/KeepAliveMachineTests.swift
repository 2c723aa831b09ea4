import Testing
@testable import mqttctl
import Mosquitto

/// The keep-alive probe's decisions, driven by made-up events (times in
/// nanoseconds from an arbitrary origin): no broker, no sockets.
@Suite struct KeepAliveMachineTests {
    static let s: UInt64 = 1_000_000_000

    func plan(
        _ keepAlives: [Int], version: ProtocolVersion = .v5, will: Bool = true, maxWait: Double? = nil
    ) -> KeepAlivePlan {
        KeepAlivePlan(
            protocolVersion: version,
            subjects: keepAlives.map { .init(keepAlive: $0, clientID: "k\($0)", willTopic: will ? "w/k\($0)" : nil) },
            will: will ? Will(topic: "", payload: [1], qos: 1) : nil,
            control: will ? .init(clientID: "ctl", willTopic: "w/control") : nil,
            observerID: "obs", backoff: 0.75, grace: 1, maxWait: maxWait)
    }

    func ack(serverKeepAlive: UInt16? = nil, at: UInt64 = 0) -> ConnAck {
        var properties = MQTTProperties()
        if let serverKeepAlive { properties.append(MQTTProperties.serverKeepAlive, .uint16(serverKeepAlive)) }
        return ConnAck(code: 0, sessionPresent: false, properties: properties, receivedAt: at)
    }

    @Test func aDropInTheWindowWithItsWillPasses() throws {
        var m = KeepAliveMachine(plan: plan([5]))
        #expect(m.handle(.start) == [.startObserver])
        #expect(m.handle(.observerReady) == [.connectAll])
        // Watched for twice the limit (17 s) from the CONNECT.
        #expect(m.handle(.subjectConnected(0, ack(), lastWrite: 0)) == [.schedule(.giveUp(0), at: 17 * Self.s)])
        #expect(m.handle(.controlDisconnected(at: Self.s)) == [.schedule(.control, at: 5 * Self.s)])
        #expect(
            m.handle(
                .subjectClosed(0, at: 7 * Self.s, end: .closed(.fin), failure: CommandFailure(.connectionLost, "")))
                == [.cancel(.giveUp(0)), .schedule(.willWindow(0), at: 13 * Self.s)])
        #expect(m.handle(.willArrived(topic: "w/k5", at: 7 * Self.s)) == [.cancel(.willWindow(0))])
        #expect(!m.isFinished)
        #expect(m.handle(.timerFired(.control, at: 5 * Self.s)) == [.stopObserver])
        #expect(m.isFinished && m.passed)
        let subject = try #require(m.subjects.first)
        #expect(subject.verdict == .pass)
        #expect(subject.droppedAfter == 7)
        #expect(subject.willAfterDrop == 0)
    }

    /// A Server Keep Alive of 65535 for K = 0: no drop can be judged within the
    /// wait, so the subject is concluded (inconclusive) at once and disconnected.
    @Test func hugeServerKeepAliveIsInconclusiveAtOnce() {
        var m = KeepAliveMachine(plan: plan([0], will: false))
        #expect(m.handle(.start) == [.connectAll])
        #expect(
            m.handle(.subjectConnected(0, ack(serverKeepAlive: 65535), lastWrite: 0)) == [
                .disconnectSubject(0), .stopObserver,
            ])
        #expect(m.isFinished && !m.passed && m.inconclusive)
        #expect(m.notes.first?.contains("nothing can be concluded") == true)
    }

    /// The default wait falls short of the limit: said on the terminal at once.
    @Test func aShortDefaultWaitIsSaidAtOnce() {
        // K = 200: the limit is 301 s, the default wait at most 300 s.
        var m = KeepAliveMachine(plan: plan([200], will: false))
        _ = m.handle(.start)
        let actions = m.handle(.subjectConnected(0, ack(), lastWrite: 0))
        #expect(actions.count == 2)
        #expect(actions.contains(.schedule(.giveUp(0), at: 300 * Self.s)))
        #expect(
            actions.contains {
                if case .tell(let text) = $0 { return text.contains("inconclusive") } else { return false }
            })
    }

    @Test func aRefusalAndALateDropInOneSweep() throws {
        var m = KeepAliveMachine(plan: plan([0, 5], will: false))
        _ = m.handle(.start)
        #expect(m.handle(.subjectRefused(0, text: "closed the connection without CONNACK", code: nil)) == [])
        _ = m.handle(.subjectConnected(1, ack(), lastWrite: Self.s))
        #expect(
            m.handle(
                .subjectClosed(1, at: 13 * Self.s, end: .closed(.fin), failure: CommandFailure(.connectionLost, "")))
                == [.cancel(.giveUp(1)), .stopObserver])
        #expect(m.subjects.map(\.verdict) == [.refused, .late])
        #expect(!m.passed && !m.inconclusive)
        #expect(m.subjects[1].findings.first { $0.level == .fail }?.rule.clause == "MQTT 5 [MQTT-3.1.2-22]")
    }

    @Test func neverDroppedAfterTheWaitFails() {
        var m = KeepAliveMachine(plan: plan([5], will: false, maxWait: 10))
        _ = m.handle(.start)
        _ = m.handle(.subjectConnected(0, ack(), lastWrite: 0))
        #expect(m.handle(.timerFired(.giveUp(0), at: 10 * Self.s)) == [.disconnectSubject(0), .stopObserver])
        #expect(m.subjects.first?.verdict == .never)
        // Our own DISCONNECT afterwards is not a drop.
        #expect(
            m.handle(.subjectClosed(0, at: 11 * Self.s, end: nil, failure: CommandFailure(.connectionLost, ""))) == [])
        #expect(m.subjects.first?.droppedAt == nil)
    }

    @Test func aConnectionThatNeverGotGoingEndsTheRun() {
        var m = KeepAliveMachine(plan: plan([5], will: false))
        _ = m.handle(.start)
        _ = m.handle(.subjectClosed(0, at: 0, end: nil, failure: CommandFailure(.tls, "TLS record")))
        #expect(m.failure?.status == .tls)
        #expect(m.handle(.timerFired(.giveUp(0), at: 0)) == [])
    }

    @Test func aWillAfterTheControlsCleanDisconnectFails() {
        var m = KeepAliveMachine(plan: plan([0]))
        _ = m.handle(.start)
        _ = m.handle(.observerReady)
        _ = m.handle(.subjectConnected(0, ack(), lastWrite: 0))
        _ = m.handle(.controlDisconnected(at: 0))
        _ = m.handle(.willArrived(topic: "w/control", at: Self.s))
        _ = m.handle(.timerFired(.control, at: 4 * Self.s))
        _ = m.handle(.timerFired(.giveUp(0), at: 20 * Self.s))
        #expect(m.isFinished)
        #expect(m.control?.willPublished == true)
        #expect(!m.passed)
        #expect(m.control?.finding(version: .v5, strict: false).rule.clause == "MQTT 5 [MQTT-3.1.2-10]")
    }
}
