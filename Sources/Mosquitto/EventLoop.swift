#if canImport(Glibc)
import Glibc
#endif

/// A single-threaded `poll` loop over any number of MQTT connections plus other
/// file descriptors (stdin, ...) and timers. It is the only place that reads and
/// writes the connections' sockets, so one process can run several connections
/// side by side (a probe and its observer, a sweep of keep-alive values) without
/// threads.
public final class EventLoop {
    public enum StopReason: Equatable, Sendable {
        /// The `until` condition became true.
        case finished
        /// The deadline passed first.
        case deadline
        /// SIGINT or SIGTERM arrived.
        case signal(Int32)
    }

    /// What a watched file descriptor is ready for (poll(2)'s bits).
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(POLLIN))
        public static let writable = Events(rawValue: Int16(POLLOUT))
        /// Only reported: an error on the descriptor.
        public static let error = Events(rawValue: Int16(POLLERR))
        /// Only reported: the other end hung up.
        public static let hangUp = Events(rawValue: Int16(POLLHUP))
    }

    private struct Watch {
        let id: Int
        let fd: Int32
        var events: Events
        let handler: (Events) -> Void
    }

    private struct Timer {
        let id: Int
        let at: UInt64
        let action: () -> Void
    }

    private var clients: [MQTTClient] = []
    private var watches: [Watch] = []
    private var timers: [Timer] = []
    private var nextID = 1
    private var pollFDs: [pollfd] = []

    /// Called before the loop may block in `poll`; `sub` flushes stdout here so
    /// that a pipe sees each batch of messages as soon as it has been read.
    public var beforeWaiting: (() -> Void)?

    /// A loop with nothing to watch yet. It reports SIGINT/SIGTERM only once the
    /// program has called `Signals.install()` (signal policy is the program's).
    public init() {}

    public func add(_ client: MQTTClient) {
        if !clients.contains(where: { $0 === client }) { clients.append(client) }
    }

    public func remove(_ client: MQTTClient) {
        clients.removeAll { $0 === client }
    }

    /// Calls `handler` with the returned events whenever `fd` is ready for `events`.
    /// Returns an id for `setEvents` and `unwatch`.
    @discardableResult
    public func watch(fd: Int32, events: Events = .readable, _ handler: @escaping (Events) -> Void) -> Int {
        let id = nextID
        nextID += 1
        watches.append(Watch(id: id, fd: fd, events: events, handler: handler))
        return id
    }

    /// Changes what a watch waits for; `[]` pauses it.
    public func setEvents(_ id: Int, _ events: Events) {
        if let i = watches.firstIndex(where: { $0.id == id }) { watches[i].events = events }
    }

    public func unwatch(_ id: Int) {
        watches.removeAll { $0.id == id }
    }

    /// Runs `action` once at the monotonic time `at`.
    @discardableResult
    public func schedule(at: UInt64, _ action: @escaping () -> Void) -> Int {
        let id = nextID
        nextID += 1
        timers.append(Timer(id: id, at: at, action: action))
        return id
    }

    @discardableResult
    public func schedule(after seconds: Double, _ action: @escaping () -> Void) -> Int {
        schedule(at: MonotonicClock.after(seconds: seconds), action)
    }

    public func cancel(_ id: Int) {
        timers.removeAll { $0.id == id }
    }

    /// Runs until `done()` is true, the monotonic `deadline` passes, or a signal
    /// arrives. `done` is checked after every batch of events.
    @discardableResult
    public func run(deadline: UInt64 = .max, until done: () -> Bool) -> StopReason {
        while true {
            flushClients()
            if done() { return .finished }
            if let sig = Signals.takePending() { return .signal(sig) }
            let now = MonotonicClock.now()
            if now >= deadline { return .deadline }
            runDueTimers(now: now)
            for client in clients { client.tick(now: now) }
            flushClients()
            if done() { return .finished }

            let timeout = pollTimeout(now: MonotonicClock.now(), deadline: deadline)
            beforeWaiting?()
            buildPollSet()
            let n = poll(&pollFDs, nfds_t(pollFDs.count), timeout)
            if n < 0 {
                if errno == EINTR { continue }
                return .signal(Signals.takePending() ?? Signals.received ?? SIGTERM)
            }
            if n == 0 { continue }
            dispatch()
        }
    }

    // MARK: Internals

    private func flushClients() {
        for client in clients where client.wantsWrite {
            client.writePending()
        }
    }

    private func runDueTimers(now: UInt64) {
        guard timers.contains(where: { $0.at <= now }) else { return }
        let due = timers.filter { $0.at <= now }.sorted { $0.at < $1.at }
        timers.removeAll { $0.at <= now }
        for timer in due { timer.action() }
    }

    private func pollTimeout(now: UInt64, deadline: UInt64) -> Int32 {
        var wake = deadline
        for timer in timers { wake = min(wake, timer.at) }
        for client in clients {
            wake = min(wake, client.deadline)
            // libmosquitto's keep-alive clock has one-second resolution.
            if client.needsTicks { wake = min(wake, now + 1_000_000_000) }
        }
        if wake == .max { return -1 }
        if wake <= now { return 0 }
        // Round up so we never wake a hair early and spin.
        let ms = (wake - now + 999_999) / 1_000_000
        return Int32(min(ms, 3_600_000))
    }

    private func buildPollSet() {
        pollFDs.removeAll(keepingCapacity: true)
        pollFDs.append(pollfd(fd: Signals.pipeFD, events: Int16(POLLIN), revents: 0))
        for client in clients {
            let fd = client.socket
            var events = Int16(POLLIN)
            if client.wantsWrite { events |= Int16(POLLOUT) }
            // A negative fd is ignored by poll; keeps indices aligned with `clients`.
            pollFDs.append(pollfd(fd: fd >= 0 ? fd : -1, events: events, revents: 0))
        }
        for watch in watches {
            pollFDs.append(pollfd(fd: watch.events.isEmpty ? -1 : watch.fd, events: watch.events.rawValue, revents: 0))
        }
    }

    private func dispatch() {
        if pollFDs[0].revents != 0 { Signals.drainPipe() }
        // Copy: handlers may add or remove clients and watches.
        let clientsNow = clients
        let watchesNow = watches
        for (i, client) in clientsNow.enumerated() {
            let revents = pollFDs[1 + i].revents
            guard revents != 0 else { continue }
            if revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                client.readAvailable()
            }
            if revents & Int16(POLLOUT) != 0 || client.wantsWrite {
                client.writePending()
            }
        }
        for (i, watch) in watchesNow.enumerated() {
            let revents = pollFDs[1 + clientsNow.count + i].revents
            if revents != 0, watches.contains(where: { $0.id == watch.id }) {
                watch.handler(Events(rawValue: revents))
            }
        }
    }
}
