import Mosquitto

/// One silent connection and what happened to it (set by KeepAliveProbe, read by the report).
final class KeepAliveSubject {
    let plan: KeepAlivePlan.Subject
    var client: MQTTClient?
    var connAck: ConnAck?
    /// Monotonic time of our last write: the end of CONNECT. Everything is measured from here.
    var silentSince: UInt64?
    var maxWait: Double = 0
    var limit: Double?
    var droppedAt: UInt64?
    var end: ConnectionEnd?
    /// When we stopped watching without a drop.
    var gaveUpAt: UInt64?
    var refusal: MQTTError?
    var willArrivedAt: UInt64?
    var verdict: KeepAliveVerdict?
    var willResolved = false
    var willDeadline: UInt64?
    var timer: Int?

    init(_ plan: KeepAlivePlan.Subject) {
        self.plan = plan
    }

    var serverKeepAlive: Int? { connAck?.properties.serverKeepAlive }
    /// What the broker enforces: its Server Keep Alive if it imposed one, else ours.
    var effectiveKeepAlive: Int { serverKeepAlive ?? plan.keepAlive }
    var resolved: Bool { verdict != nil && willResolved }

    var droppedAfter: Double? {
        guard let droppedAt, let silentSince else { return nil }
        return MonotonicClock.seconds(silentSince, droppedAt)
    }

    var watched: Double? {
        guard let silentSince else { return nil }
        return MonotonicClock.seconds(silentSince, droppedAt ?? gaveUpAt ?? MonotonicClock.now())
    }

    /// nil without a will, or when there was no drop to publish it.
    var willPublished: Bool? {
        guard plan.willTopic != nil, droppedAt != nil else { return nil }
        return willArrivedAt != nil
    }

    var willAfterDrop: Double? {
        guard let droppedAt, let willArrivedAt else { return nil }
        return MonotonicClock.seconds(droppedAt, willArrivedAt)
    }

    /// The verdict passed, and a will that should have come after the drop came.
    var passed: Bool { (verdict?.passed ?? false) && willPublished != false }
}

/// The negative control's connection (set by KeepAliveProbe, read by the report).
final class KeepAliveControl {
    let plan: KeepAlivePlan.Control
    var client: MQTTClient?
    var disconnectedAt: UInt64?
    var willArrivedAt: UInt64?
    var done = false

    init(_ plan: KeepAlivePlan.Control) {
        self.plan = plan
    }

    var willPublished: Bool { willArrivedAt != nil }
    var passed: Bool { done && !willPublished }
}
