/// Where bytes of output are built: a byte array, or stdout's buffer. The
/// one escaper and the one integer writer append through it.
protocol ByteSink {
    mutating func append(_ byte: UInt8)
    mutating func append(_ bytes: UnsafeRawBufferPointer)
}

extension Array: ByteSink where Element == UInt8 {
    mutating func append(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

extension OutputBuffer: ByteSink {}

/// Integers in decimal, without going through String (the per-message path).
enum DecimalText {
    @inline(__always)
    static func append<Sink: ByteSink>(_ value: Int, to sink: inout Sink) {
        var v = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: 20 digits and a sign
        withUnsafeMutableBytes(of: &digits) { scratch in
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: v % 10) + UInt8(ascii: "0")
                v /= 10
            } while v > 0
            if value < 0 { i -= 1; scratch[i] = UInt8(ascii: "-") }
            sink.append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }
}
