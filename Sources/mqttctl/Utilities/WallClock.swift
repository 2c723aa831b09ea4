#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time for message timestamps (never for measuring intervals: that
/// is `MonotonicClock`).
struct WallClock {
    let seconds: Int
    let nanoseconds: Int

    static func now() -> WallClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallClock(seconds: Int(ts.tv_sec), nanoseconds: Int(ts.tv_nsec))
    }

    /// Broken-down UTC time.
    func utc() -> tm {
        var t = time_t(seconds)
        var result = tm()
        gmtime_r(&t, &result)
        return result
    }

    /// Appends `2026-11-22T10:04:05.123Z` (UTC, milliseconds).
    func appendISO8601UTC(to output: OutputBuffer) {
        let t = utc()
        appendDigits(Int(t.tm_year) + 1900, 4, output)
        output.append(45)
        appendDigits(Int(t.tm_mon) + 1, 2, output)
        output.append(45)
        appendDigits(Int(t.tm_mday), 2, output)
        output.append(84)
        appendDigits(Int(t.tm_hour), 2, output)
        output.append(58)
        appendDigits(Int(t.tm_min), 2, output)
        output.append(58)
        appendDigits(Int(t.tm_sec), 2, output)
        output.append(46)
        appendDigits(nanoseconds / 1_000_000, 3, output)
        output.append(90)
    }

    private func appendDigits(_ value: Int, _ width: Int, _ output: OutputBuffer) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            output.append(UInt8(48 + (v / divisor) % 10))
            v %= divisor
            divisor /= 10
        }
    }
}
