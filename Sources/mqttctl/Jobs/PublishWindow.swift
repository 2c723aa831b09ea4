import Mosquitto

/// `pub`'s in-flight window and acknowledgement accounting as a value: events
/// in, actions out. It decides how many messages may go out now, when the run
/// is over and what the exit status says; `PublishJob` owns the connection, the
/// input and the timers and does what the actions say. A message counts as
/// done only when libmosquitto reports it complete (PUBACK or PUBCOMP at
/// QoS 1/2, written at QoS 0), so the counts here are the only ones the
/// report reads.
struct PublishWindow {
    enum Input: Equatable {
        /// One payload sent `count` times (-m, -f, -s, -n with --repeat).
        case count(Int)
        /// One message per line of stdin (-l), as many as there are.
        case lines
    }

    enum Event {
        /// CONNACK arrived; an MQTT 5 broker may cap the window (Receive Maximum).
        case connected(receiveMaximum: Int?, at: UInt64)
        /// One message was handed to libmosquitto.
        case sent(at: UInt64)
        /// libmosquitto reported one message complete, with its MQTT 5 reason code.
        case completed(reasonCode: Int, at: UInt64)
        /// Stdin has no more lines (or stopped on bad input): what is in flight is the rest.
        case inputEnded
        /// libmosquitto would not take a message.
        case sendFailed(MQTTError.Kind, message: String)
        /// The periodic check of --ack-timeout.
        case tick(at: UInt64)
        /// The connection closed without our asking; `cause` says why, `line`
        /// is the last input line read (-l).
        case connectionClosed(cause: CommandFailure, line: Int?)
        case interrupted(signal: Int32)
    }

    enum Action {
        /// Publish up to this many more messages now.
        case publish(upTo: Int)
        /// The run is over: disconnect (if still connected), then exit with
        /// this failure, or succeed when it is nil.
        case finish(CommandFailure?)
    }

    let input: Input
    let qos: Int
    /// Seconds without any acknowledgement after which the run gives up.
    let ackTimeout: Double
    private(set) var window: Int
    /// Messages handed to libmosquitto.
    private(set) var published = 0
    /// Messages acknowledged (QoS 1/2) or written (QoS 0).
    private(set) var completed = 0
    /// Acknowledgements with an MQTT 5 reason code of 0x80 or more.
    private(set) var rejected = 0
    private(set) var firstRejection: Int?
    private(set) var isFinished = false
    private var inputEnded = false
    private var lastProgress: UInt64 = 0

    init(input: Input, qos: Int, window: Int, ackTimeout: Double) {
        self.input = input
        self.qos = qos
        self.window = max(1, window)
        self.ackTimeout = ackTimeout
    }

    var inflight: Int { published - completed }

    /// No more messages will be sent: the count is reached or stdin ended.
    var inputExhausted: Bool {
        switch input {
        case .count(let count): return published >= count
        case .lines: return inputEnded
        }
    }

    /// How many messages may go out now.
    var room: Int {
        guard !isFinished, !inputExhausted else { return 0 }
        var room = window - inflight
        if case .count(let count) = input { room = min(room, count - published) }
        return max(0, room)
    }

    mutating func handle(_ event: Event) -> Action? {
        guard !isFinished else { return nil }
        switch event {
        case .connected(let receiveMaximum, let now):
            if let receiveMaximum { window = max(1, min(window, receiveMaximum)) }
            lastProgress = now
            return next()
        case .sent(let now):
            // The --ack-timeout clock starts when a message goes into an empty
            // window, not at the last acknowledgement (--repeat-delay pauses).
            if inflight <= 0 { lastProgress = now }
            published += 1
            // At QoS 0 libmosquitto may report the message written before
            // `publish` returns, so this can be the last event.
            return inputExhausted && inflight == 0 ? finish(completionFailure) : nil
        case .completed(let reasonCode, let now):
            completed += 1
            lastProgress = now
            if reasonCode >= 0x80 {
                rejected += 1
                if firstRejection == nil { firstRejection = reasonCode }
            }
            return next()
        case .inputEnded:
            guard !inputEnded else { return nil }
            inputEnded = true
            return next()
        case .sendFailed(let kind, let message):
            let status: ExitStatus = kind == .connectionLost ? .connectionLost : .notAcknowledged
            return finish(CommandFailure(status, "\(message); \(unacknowledgedText)"))
        case .tick(let now):
            guard inflight > 0, MonotonicClock.seconds(lastProgress, now) >= ackTimeout else { return nil }
            return finish(
                CommandFailure(
                    .notAcknowledged,
                    "no acknowledgement from the broker for \(formatSeconds(ackTimeout)) s (--ack-timeout): \(unacknowledgedText)"
                ))
        case .connectionClosed(let cause, let line):
            if inputExhausted && inflight == 0 { return finish(completionFailure) }
            let where_ = line.map { " after input line \($0)" } ?? ""
            if qos > 0 {
                return finish(CommandFailure(.notAcknowledged, "\(cause.message)\(where_): \(unacknowledgedText)"))
            }
            return finish(CommandFailure(cause.status, "\(cause.message)\(where_) (\(unacknowledgedText))"))
        case .interrupted(let signal):
            let message = qos > 0 && notAcknowledged > 0 ? "interrupted: \(unacknowledgedText)" : ""
            return finish(CommandFailure(ExitStatus(signal: signal), message))
        }
    }

    /// After progress: finish when everything is done, else send what fits.
    private mutating func next() -> Action? {
        if inputExhausted && inflight == 0 { return finish(completionFailure) }
        let room = room
        return room > 0 ? .publish(upTo: room) : nil
    }

    private mutating func finish(_ failure: CommandFailure?) -> Action {
        isFinished = true
        return .finish(failure)
    }

    /// Everything was sent and acknowledged; an MQTT 5 broker may still have said no.
    private var completionFailure: CommandFailure? {
        guard rejected > 0 else { return nil }
        let reason = firstRejection.map { ReasonCode.describe($0) } ?? "unknown"
        return CommandFailure(.notAcknowledged, "the broker rejected \(rejected) of \(published) messages (\(reason))")
    }

    /// QoS 1/2 messages not acknowledged, those never sent included (--repeat).
    var notAcknowledged: Int {
        if case .count(let count) = input { return count - completed }
        return inflight
    }

    /// "20 of 50 messages were not acknowledged (30 never sent)"; at QoS 0,
    /// which has no acknowledgements, how many were sent.
    var unacknowledgedText: String {
        switch input {
        case .count(let count):
            if qos == 0 { return "\(completed) of \(count) messages sent" }
            let neverSent = count - published
            return "\(notAcknowledged) of \(count) messages were not acknowledged"
                + (neverSent > 0 ? " (\(neverSent) never sent)" : "")
        case .lines:
            let rest = inputEnded ? "" : "; the rest of stdin was not sent"
            if qos == 0 { return "\(completed) messages sent\(rest)" }
            return "\(inflight) of \(published) messages were not acknowledged\(rest)"
        }
    }
}
