import Testing
@testable import mqttctl
import Mosquitto

/// The take-over probe's decisions, driven by made-up events: no broker, no
/// sockets, no clock but the times in the events.
@Suite struct TakeoverMachineTests {
    static let ms: UInt64 = 1_000_000

    func plan(
        _ version: ProtocolVersion = .v311, persistent: Bool = false, will: Bool = true, closeWait: Double = 5
    ) -> TakeoverPlan {
        var plan = TakeoverPlan(
            protocolVersion: version, clientID: "id", observerID: "id-obs", cleanStart: !persistent,
            sessionExpiry: persistent && version == .v5 ? 300 : nil, newCleanStart: false,
            will: will ? Will(topic: "w", payload: [1], qos: 1) : nil, carryTopic: "c", keepAlive: 60, strict: false,
            grace: 1, closeWait: closeWait, sessionName: persistent ? "persistent" : "clean")
        plan.waitCap = 300
        return plan
    }

    func failure() -> CommandFailure { CommandFailure(.connectionLost, "closed") }

    @Test func cleanMQTT311TakeoverWithWillPasses() throws {
        var m = TakeoverMachine(plan: plan(), subscribeTimeout: 10)
        #expect(m.handle(.start) == [.startObserver])
        #expect(m.handle(.observerReady) == [.connectA])
        #expect(
            m.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 1 * Self.ms)))
                == [.watchA, .connectB, .schedule(.closeWait, after: 5)])
        // A is closed 0.3 ms after B's CONNECT was written; the will arrives 0.1 ms later.
        #expect(
            m.handle(.aClosed(at: 103 * Self.ms / 10, end: .closed(.fin), failure: failure(), bLastWrite: 10 * Self.ms))
                == [.schedule(.willWindow, after: 4)])
        #expect(m.handle(.willArrived(at: 104 * Self.ms / 10)) == [])
        #expect(
            m.handle(
                .bConnected(
                    ConnAck(code: 0, sessionPresent: false, receivedAt: 11 * Self.ms), connectWrittenAt: 10 * Self.ms))
                == [.cancelTimers, .disconnectA, .disconnectB])
        // Nothing survives a clean session: no sweep, finished when B is gone.
        #expect(m.handle(.bClosed(end: nil, failure: failure())) == [.stopObserver])
        #expect(m.isFinished)
        let result = try #require(m.measurement)
        #expect(m.closedAfter(result).map { ($0 * 1000).rounded() / 1000 } == 0.3)
        #expect(m.willAfterClose(result).map { ($0 * 1000).rounded() / 1000 } == 0.1)
        #expect(result.findings.passed && result.findings.reported.isEmpty, "\(result.findings)")
    }

    /// The persistent path: A subscribes first, B must get the carried-over
    /// message, and the session is swept away afterwards.
    @Test func persistentTakeoverChecksTheSubscriptionAndSweeps() throws {
        var m = TakeoverMachine(plan: plan(.v5, persistent: true), subscribeTimeout: 10)
        _ = m.handle(.start)
        _ = m.handle(.observerReady)
        let maxQoS0 = MQTTProperties([.init(identifier: MQTTProperties.maximumQoS, value: .byte(0))])
        #expect(
            m.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, properties: maxQoS0, receivedAt: 0)))
                == [.subscribeA(qos: 0), .schedule(.subscribeTimeout, after: 10)])
        #expect(m.handle(.aSubscribed(granted: [0])) == [.watchA, .connectB, .schedule(.closeWait, after: 5)])
        _ = m.handle(
            .aClosed(
                at: 2 * Self.ms, end: .disconnect(ServerDisconnect(reasonCode: 0x8E)), failure: failure(),
                bLastWrite: Self.ms))
        #expect(
            m.handle(
                .bConnected(ConnAck(code: 0, sessionPresent: true, receivedAt: 3 * Self.ms), connectWrittenAt: Self.ms))
                == [.publishCarry, .schedule(.carryWindow, after: 4)])
        _ = m.handle(.willArrived(at: 2 * Self.ms))
        #expect(m.handle(.carryArrived(at: 4 * Self.ms)) == [.cancelTimers, .disconnectA, .disconnectB])
        #expect(m.handle(.bClosed(end: nil, failure: failure())) == [.sweepSession])
        #expect(!m.isFinished)
        #expect(m.handle(.sweepEnded(cleanly: false)) == [.stopObserver])
        let result = try #require(m.measurement)
        #expect(result.notes.contains { $0.contains("could not remove the session") })
        #expect(result.findings.passed, "\(result.findings)")
        #expect(m.subscriptionCarriedOver(result) == true)
    }

    @Test func aNotClosedFailsAfterItsWindows() throws {
        var m = TakeoverMachine(plan: plan(closeWait: 1), subscribeTimeout: 10)
        _ = m.handle(.start)
        _ = m.handle(.observerReady)
        _ = m.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        #expect(
            m.handle(.bConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: Self.ms), connectWrittenAt: 0))
                == [])
        #expect(m.handle(.timerFired(.closeWait, at: 1000 * Self.ms)) == [.schedule(.willWindow, after: 4)])
        #expect(m.handle(.timerFired(.willWindow, at: 5000 * Self.ms)) == [.cancelTimers, .disconnectA, .disconnectB])
        let result = try #require(m.measurement)
        #expect(
            result.findings.filter { $0.level == .fail }.map(\.rule.clause) == [
                "MQTT 3.1.1 [MQTT-3.1.4-2]", "MQTT 3.1.1 [MQTT-3.1.2-8]",
            ])
    }

    @Test func failuresBeforeTheTakeoverEndTheProbe() {
        var refused = TakeoverMachine(plan: plan(persistent: true), subscribeTimeout: 10)
        _ = refused.handle(.start)
        _ = refused.handle(.observerReady)
        _ = refused.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        #expect(refused.handle(.aSubscribed(granted: [0x80])) == [])
        #expect(refused.failure?.status == .subscriptionRefused)

        var lost = TakeoverMachine(plan: plan(), subscribeTimeout: 10)
        _ = lost.handle(.start)
        _ = lost.handle(.observerReady)
        _ = lost.handle(.aClosed(at: 0, end: nil, failure: CommandFailure(.cannotConnect, "refused"), bLastWrite: nil))
        #expect(lost.failure?.status == .cannotConnect)
        #expect(lost.failure?.message.hasPrefix("connection A (id), before the take-over") == true)

        var silent = TakeoverMachine(plan: plan(persistent: true), subscribeTimeout: 10)
        _ = silent.handle(.start)
        _ = silent.handle(.observerReady)
        _ = silent.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        _ = silent.handle(.timerFired(.subscribeTimeout, at: 0))
        #expect(silent.failure?.status == .timeout)
    }

    /// A holds a message unacknowledged before B comes; a resumed session must
    /// deliver it to B again ([MQTT-4.4.0-1]); B's own will must stay unpublished.
    @Test func inflightMessageAndBsWill() throws {
        var p = plan(.v5, persistent: true)
        p.aInflight = true
        p.bWill = Will(topic: "bw", payload: [2], qos: 1)
        var m = TakeoverMachine(plan: p, subscribeTimeout: 10)
        _ = m.handle(.start)
        _ = m.handle(.observerReady)
        _ = m.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        #expect(
            m.handle(.aSubscribed(granted: [1])) == [
                .watchA, .publishInflight, .schedule(.subscribeTimeout, after: 10),
            ])
        #expect(m.handle(.aReceivedPublish) == [.watchA, .connectB, .schedule(.closeWait, after: 5)])
        _ = m.handle(
            .aClosed(
                at: 2 * Self.ms, end: .disconnect(ServerDisconnect(reasonCode: 0x8E)), failure: failure(),
                bLastWrite: Self.ms))
        _ = m.handle(.willArrived(at: 2 * Self.ms))
        _ = m.handle(
            .bConnected(ConnAck(code: 0, sessionPresent: true, receivedAt: 3 * Self.ms), connectWrittenAt: Self.ms))
        // The carry message alone is not enough: the one in flight must come too.
        #expect(m.handle(.carryArrived(at: 4 * Self.ms)) == [])
        #expect(m.handle(.inflightArrived(at: 4 * Self.ms)) == [.cancelTimers, .disconnectA, .disconnectB])
        let result = try #require(m.measurement)
        #expect(result.findings.passed, "\(result.findings)")
        #expect(result.findings.contains { $0.rule == SpecRules.unacknowledgedResent(.v5) && $0.level == .pass })

        var leaky = TakeoverMachine(plan: p, subscribeTimeout: 10)
        _ = leaky.handle(.start)
        _ = leaky.handle(.observerReady)
        _ = leaky.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        _ = leaky.handle(.aSubscribed(granted: [1]))
        _ = leaky.handle(.aReceivedPublish)
        _ = leaky.handle(.bWillArrived(at: Self.ms))
        _ = leaky.handle(.aClosed(at: 2 * Self.ms, end: .closed(.fin), failure: failure(), bLastWrite: Self.ms))
        _ = leaky.handle(.willArrived(at: 2 * Self.ms))
        _ = leaky.handle(
            .bConnected(ConnAck(code: 0, sessionPresent: true, receivedAt: 3 * Self.ms), connectWrittenAt: Self.ms))
        _ = leaky.handle(.carryArrived(at: 4 * Self.ms))
        _ = leaky.handle(.timerFired(.carryWindow, at: 8000 * Self.ms))
        let failed = try #require(leaky.measurement).findings.filter { $0.level == .fail }.map(\.rule)
        #expect(failed == [SpecRules.willNotBeforeClose(.v5), SpecRules.unacknowledgedResent(.v5)], "\(failed)")
    }

    @Test func withoutWillOrSessionNoObserverIsNeeded() {
        var m = TakeoverMachine(plan: plan(will: false), subscribeTimeout: 10)
        #expect(m.handle(.start) == [.connectA])
        // A late will (none was set) changes nothing.
        _ = m.handle(.aConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 0)))
        #expect(m.handle(.willArrived(at: 1)) == [])
        _ = m.handle(.aClosed(at: 2, end: .closed(.reset), failure: failure(), bLastWrite: 1))
        #expect(
            m.handle(.bConnected(ConnAck(code: 0, sessionPresent: false, receivedAt: 3), connectWrittenAt: 1))
                == [.cancelTimers, .disconnectA, .disconnectB])
        #expect(m.willPublished(m.measurement!) == nil)
    }
}
