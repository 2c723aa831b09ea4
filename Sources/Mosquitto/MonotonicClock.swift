#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in nanoseconds. Every measured interval in mqttctl (RTTs, drop
/// times, deadlines) comes from here, never from the wall clock.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// `now()` plus a number of seconds, saturating.
    public static func after(seconds: Double) -> UInt64 {
        let ns = seconds * 1e9
        if ns >= Double(UInt64.max / 2) { return UInt64.max }
        return now() &+ UInt64(max(0, ns))
    }

    public static func seconds(_ from: UInt64, _ to: UInt64) -> Double {
        to >= from ? Double(to - from) / 1e9 : -Double(from - to) / 1e9
    }

    public static func milliseconds(_ from: UInt64, _ to: UInt64) -> Double {
        seconds(from, to) * 1000
    }
}
