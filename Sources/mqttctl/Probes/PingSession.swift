import Mosquitto

/// The measuring part of `mqttctl ping`: sends PINGREQs on a fixed schedule
/// and times each PINGRESP with the monotonic clock.
///
/// A PINGRESP carries no identifier, but TCP delivers in order and a broker
/// answers PINGREQs in order, so replies are matched first-in first-out. A
/// request that timed out stays in the queue: when its reply finally comes it
/// is reported as that request's late reply, not as the answer to a newer one.
final class PingSession {
    struct Reply {
        let seq: Int
        /// Milliseconds from the PINGREQ write to the PINGRESP read.
        let rtt: Double
        /// Arrived after the per-reply timeout (-W).
        let late: Bool
    }

    private struct Request {
        let seq: Int
        let sentAt: UInt64
        let deadline: UInt64
        var timedOut = false
        var timer: Int?
    }

    let client: MQTTClient
    let loop: EventLoop
    /// nil: until stopped.
    let count: Int?
    let interval: Double
    let timeout: Double

    var onReply: ((Reply) -> Void)?
    var onTimeout: ((_ seq: Int, _ written: Bool) -> Void)?
    var onUnexpectedReply: (() -> Void)?
    /// Called half an interval after each PINGREQ (`ping --publish` sends its PUBLISH there).
    var between: ((Int) -> Void)?

    private(set) var sent = 0
    private(set) var replies: [Reply] = []
    /// Requests that could not even be written before their deadline.
    private(set) var unwritten: [Int] = []
    private(set) var firstSentAt: UInt64?
    private(set) var stoppedSending = false
    private var outstanding: [Request] = []
    private var startedAt: UInt64 = 0
    private var sendTimer: Int?
    /// A request whose PINGREQ could not be written yet (a packet of
    /// libmosquitto's was half-written); retried until its deadline.
    private var pendingWrite: (seq: Int, deadline: UInt64)?

    init(client: MQTTClient, loop: EventLoop, count: Int?, interval: Double, timeout: Double) {
        self.client = client
        self.loop = loop
        self.count = count
        self.interval = interval
        self.timeout = timeout
        // Synchronous, inside libmosquitto's read: the clock is read right there.
        client.onPingResponse = { [unowned self] in received(at: MonotonicClock.now()) }
    }

    func start() {
        startedAt = MonotonicClock.now()
        scheduleSend(seq: 1)
    }

    /// No more PINGREQs; outstanding ones still get their time to answer.
    func stopSending() {
        stoppedSending = true
        if let sendTimer { loop.cancel(sendTimer) }
        sendTimer = nil
        if let pending = pendingWrite {
            pendingWrite = nil
            unwritten.append(pending.seq)
        }
    }

    /// Every request sent and answered or timed out.
    var isDone: Bool {
        let allSent = stoppedSending || (count.map { sent >= $0 } ?? false)
        return allSent && pendingWrite == nil && outstanding.allSatisfy(\.timedOut)
    }

    /// Replies that came within the timeout.
    var received: Int { replies.count { !$0.late } }
    var late: Int { replies.count { $0.late } }
    /// Requests that got no reply at all (so far).
    var unanswered: [Int] { (unwritten + outstanding.map(\.seq)).sorted() }

    /// Statistics of the replies that came in time, in ms.
    var statistics: RTTStatistics? { RTTStatistics(replies.filter { !$0.late }.map(\.rtt)) }

    // MARK: Sending

    /// Sends follow a fixed grid (start + n × interval), so a slow write never
    /// makes the schedule drift.
    private func scheduleSend(seq: Int) {
        guard !stoppedSending else { return }
        if let count, seq > count { return }
        let at = startedAt &+ UInt64((Double(seq - 1) * interval * 1e9).rounded())
        sendTimer = loop.schedule(at: at) { [unowned self] in
            sendTimer = nil
            sent = seq
            pendingWrite = (seq, MonotonicClock.now() &+ UInt64(timeout * 1e9))
            tryWrite()
            if let between { loop.schedule(after: interval / 2) { between(seq) } }
            scheduleSend(seq: seq + 1)
        }
    }

    private func tryWrite() {
        guard let pending = pendingWrite else { return }
        let before = MonotonicClock.now()
        if client.sendPingRequest() {
            pendingWrite = nil
            if firstSentAt == nil { firstSentAt = before }
            var request = Request(seq: pending.seq, sentAt: before, deadline: pending.deadline)
            request.timer = loop.schedule(at: pending.deadline) { [unowned self] in timedOut(seq: pending.seq) }
            outstanding.append(request)
        } else if before >= pending.deadline || client.state != .connected {
            pendingWrite = nil
            unwritten.append(pending.seq)
            onTimeout?(pending.seq, false)
        } else {
            // libmosquitto has a packet half-written; a PINGREQ must not cut into it.
            loop.schedule(after: 0.002) { [unowned self] in tryWrite() }
        }
    }

    // MARK: Replies

    private func received(at now: UInt64) {
        guard !outstanding.isEmpty else {
            onUnexpectedReply?()
            return
        }
        let request = outstanding.removeFirst()
        if let timer = request.timer { loop.cancel(timer) }
        let rtt = MonotonicClock.milliseconds(request.sentAt, now)
        let reply = Reply(seq: request.seq, rtt: rtt, late: request.timedOut || rtt > timeout * 1000)
        replies.append(reply)
        onReply?(reply)
    }

    private func timedOut(seq: Int) {
        guard let i = outstanding.firstIndex(where: { $0.seq == seq }), !outstanding[i].timedOut else { return }
        outstanding[i].timedOut = true
        onTimeout?(seq, true)
    }
}
