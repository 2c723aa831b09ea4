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

    /// Broken-down local time (TZ).
    func local() -> tm {
        var t = time_t(seconds)
        var result = tm()
        localtime_r(&t, &result)
        return result
    }

    /// Appends `2026-11-22T10:04:05.123Z` (UTC, milliseconds).
    func appendISO8601UTC(to output: OutputBuffer) {
        appendISO8601UTC(fractionDigits: 3) { output.append($0) }
    }

    /// `2026-11-22T10:04:05.123Z` with `fractionDigits` (1...9) digits of the
    /// second (6: microseconds), one byte at a time to `emit`.
    func appendISO8601UTC(fractionDigits: Int, _ emit: (UInt8) -> Void) {
        let t = utc()
        Self.digits(Int(t.tm_year) + 1900, 4, emit)
        emit(45)
        Self.digits(Int(t.tm_mon) + 1, 2, emit)
        emit(45)
        Self.digits(Int(t.tm_mday), 2, emit)
        emit(84)
        Self.digits(Int(t.tm_hour), 2, emit)
        emit(58)
        Self.digits(Int(t.tm_min), 2, emit)
        emit(58)
        Self.digits(Int(t.tm_sec), 2, emit)
        emit(46)
        let places = min(max(fractionDigits, 1), 9)
        var divisor = 1
        for _ in places..<9 { divisor *= 10 }
        Self.digits(nanoseconds / divisor, places, emit)
        emit(90)
    }

    /// `2026-11-22T10:04:05` (UTC, whole seconds, no zone: JUnit's timestamp form).
    var isoSecondsUTC: String {
        var bytes: [UInt8] = []
        appendISO8601UTC(fractionDigits: 1) { bytes.append($0) }
        return String(decoding: bytes.prefix(19), as: UTF8.self)
    }

    /// `value` in exactly `width` decimal digits (leading zeros; higher digits dropped).
    static func digits(_ value: Int, _ width: Int, _ emit: (UInt8) -> Void) {
        var divisor = 1
        var place = 1
        while place < width { divisor *= 10; place += 1 }
        var v = value
        while divisor > 0 {
            emit(UInt8(48 + (v / divisor) % 10))
            v %= divisor
            divisor /= 10
        }
    }
}
