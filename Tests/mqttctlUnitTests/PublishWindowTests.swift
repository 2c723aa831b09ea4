import Testing
@testable import mqttctl

/// `pub`'s window driven by made-up events: what may go out, when the run
/// ends and what the exit status and message say.
@Suite struct PublishWindowTests {
    let second: UInt64 = 1_000_000_000

    /// Sends as many as the window says, as a driver would.
    func send(_ window: inout PublishWindow, at now: UInt64) -> [PublishWindow.Action] {
        var actions: [PublishWindow.Action] = []
        var room = window.room
        while room > 0 {
            if let action = window.handle(.sent(at: now)) { actions.append(action) }
            room -= 1
        }
        return actions
    }

    func failure(_ action: PublishWindow.Action?) -> CommandFailure?? {
        if case .finish(let failure)? = action { return .some(failure) }
        return nil
    }

    @Test func theWindowIsNeverExceededAndEveryMessageIsAcknowledgedBeforeSuccess() {
        var window = PublishWindow(input: .count(5), qos: 1, window: 2, ackTimeout: 10)
        guard case .publish(upTo: 2)? = window.handle(.connected(receiveMaximum: nil, at: 0)) else {
            Issue.record("expected room for 2"); return
        }
        #expect(send(&window, at: 0).isEmpty)
        #expect(window.inflight == 2 && window.room == 0)
        guard case .publish(upTo: 1)? = window.handle(.completed(reasonCode: 0, at: 1)) else {
            Issue.record("expected room for 1"); return
        }
        _ = send(&window, at: 1)
        _ = window.handle(.completed(reasonCode: 0, at: 2))
        _ = send(&window, at: 2)
        _ = window.handle(.completed(reasonCode: 0, at: 3))
        _ = send(&window, at: 3)
        #expect(window.published == 5 && window.room == 0 && window.inflight == 2)
        #expect(window.handle(.completed(reasonCode: 0, at: 4)) == nil, "one still in flight")
        let last = window.handle(.completed(reasonCode: 0, at: 5))
        #expect(failure(last) == .some(nil), "success once all five are acknowledged")
        #expect(window.isFinished && window.room == 0)
        #expect(window.handle(.tick(at: 100 * second)) == nil, "nothing after the end")
    }

    @Test func anMQTT5ReceiveMaximumNarrowsTheWindow() {
        var window = PublishWindow(input: .count(100), qos: 1, window: 20, ackTimeout: 10)
        guard case .publish(upTo: 3)? = window.handle(.connected(receiveMaximum: 3, at: 0)) else {
            Issue.record("expected room for 3"); return
        }
        #expect(window.window == 3)
    }

    @Test func rejectionsAreCountedAndReportedWithTheFirstReason() {
        var window = PublishWindow(input: .count(3), qos: 1, window: 10, ackTimeout: 10)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = send(&window, at: 0)
        _ = window.handle(.completed(reasonCode: 0x87, at: 1))
        _ = window.handle(.completed(reasonCode: 0, at: 1))
        let end = failure(window.handle(.completed(reasonCode: 0x97, at: 1)))
        #expect(end??.status == .notAcknowledged)
        #expect(end??.message.contains("rejected 2 of 3 messages") == true, "\(String(describing: end))")
        #expect(end??.message.contains("0x87") == true)
    }

    @Test func silenceForTheAckTimeoutFailsWithCounts() {
        var window = PublishWindow(input: .count(50), qos: 1, window: 20, ackTimeout: 5)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = send(&window, at: 0)
        for _ in 0..<10 { _ = window.handle(.completed(reasonCode: 0, at: 1 * second)) }
        #expect(window.handle(.tick(at: 5 * second)) == nil, "4 s since the last acknowledgement")
        let end = failure(window.handle(.tick(at: 6 * second)))
        #expect(end??.status == .notAcknowledged)
        #expect(
            end??.message
                == "no acknowledgement from the broker for 5 s (--ack-timeout): 40 of 50 messages were not acknowledged (30 never sent)"
        )
    }

    /// With --repeat-delay longer than --ack-timeout the window is empty between
    /// messages; the clock starts when the next one goes out.
    @Test func aPauseWithNothingInFlightIsNotSilence() {
        var window = PublishWindow(input: .count(2), qos: 1, window: 1, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.sent(at: 0))
        _ = window.handle(.completed(reasonCode: 0, at: 1 * second))
        #expect(window.handle(.tick(at: 9 * second)) == nil, "nothing in flight")
        _ = window.handle(.sent(at: 10 * second))
        #expect(window.handle(.tick(at: 12 * second)) == nil, "2 s after the second message went out")
        #expect(failure(window.handle(.tick(at: 13 * second))) != nil)
    }

    /// QoS 0: libmosquitto can report a message written inside `publish`,
    /// before the driver records it as sent.
    @Test func aCompletionBeforeItsSendStillEndsTheRun() {
        var window = PublishWindow(input: .count(1), qos: 0, window: 1, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.completed(reasonCode: 0, at: 0))
        #expect(failure(window.handle(.sent(at: 0))) == .some(nil))
    }

    @Test func linesEndWhenStdinEndsAndTheLastIsAcknowledged() {
        var window = PublishWindow(input: .lines, qos: 2, window: 4, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.sent(at: 0))
        _ = window.handle(.sent(at: 0))
        #expect(window.handle(.inputEnded) == nil, "two in flight")
        #expect(window.handle(.inputEnded) == nil, "said once")
        #expect(window.room == 0, "the window has room, but there is no input left")
        _ = window.handle(.completed(reasonCode: 0, at: 1))
        #expect(failure(window.handle(.completed(reasonCode: 0, at: 1))) == .some(nil))
    }

    @Test func aLostConnectionCountsWhatWasNotAcknowledged() {
        var window = PublishWindow(input: .lines, qos: 1, window: 10, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        for _ in 0..<7 { _ = window.handle(.sent(at: 0)) }
        for _ in 0..<3 { _ = window.handle(.completed(reasonCode: 0, at: 0)) }
        let cause = CommandFailure(.connectionLost, "the connection was lost")
        let end = failure(window.handle(.connectionClosed(cause: cause, line: 7)))
        #expect(end??.status == .notAcknowledged)
        #expect(
            end??.message
                == "the connection was lost after input line 7: 4 of 7 messages were not acknowledged; the rest of stdin was not sent"
        )
    }

    @Test func aLostConnectionAtQoS0KeepsItsOwnStatus() {
        var window = PublishWindow(input: .count(3), qos: 0, window: 10, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.sent(at: 0))
        _ = window.handle(.completed(reasonCode: 0, at: 0))
        let end = failure(window.handle(.connectionClosed(cause: CommandFailure(.connectionLost, "lost"), line: nil)))
        #expect(end??.status == .connectionLost)
        #expect(end??.message == "lost (1 of 3 messages sent)")
    }

    @Test func aConnectionClosedAfterEverythingWasAcknowledgedLosesNothing() {
        var window = PublishWindow(input: .count(1), qos: 1, window: 10, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.sent(at: 0))
        // The completion's own `finish` is what a driver sees first; a close
        // reported later is ignored.
        #expect(failure(window.handle(.completed(reasonCode: 0, at: 0))) == .some(nil))
        #expect(window.handle(.connectionClosed(cause: CommandFailure(.connectionLost, "lost"), line: nil)) == nil)
    }

    @Test func anInterruptionSaysWhatWasNotAcknowledged() {
        var window = PublishWindow(input: .count(10), qos: 1, window: 10, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = send(&window, at: 0)
        for _ in 0..<4 { _ = window.handle(.completed(reasonCode: 0, at: 0)) }
        let end = failure(window.handle(.interrupted(signal: 2)))
        #expect(end??.status == .interrupted)
        #expect(end??.message == "interrupted: 6 of 10 messages were not acknowledged")

        var quiet = PublishWindow(input: .count(10), qos: 0, window: 10, ackTimeout: 3)
        _ = quiet.handle(.connected(receiveMaximum: nil, at: 0))
        #expect(failure(quiet.handle(.interrupted(signal: 15)))??.message == "", "QoS 0 has nothing to tell")
    }

    @Test func aRefusedSendEndsTheRunWithTheLibrarysWords() {
        var window = PublishWindow(input: .count(4), qos: 1, window: 10, ackTimeout: 3)
        _ = window.handle(.connected(receiveMaximum: nil, at: 0))
        _ = window.handle(.sent(at: 0))
        let end = failure(window.handle(.sendFailed(.connectionLost, message: "not connected")))
        #expect(end??.status == .connectionLost)
        #expect(end??.message == "not connected; 4 of 4 messages were not acknowledged (3 never sent)")
    }
}
