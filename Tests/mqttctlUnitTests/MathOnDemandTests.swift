import CMathOnDemand
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The release binary's own ceil (Sources/CMathOnDemand), which the standard
/// library calls at every start, against libm's.
@Suite struct MathOnDemandTests {
    /// Same value and, for zeros, the same sign; NaN stays NaN.
    func agrees(_ x: Double) -> Bool {
        let ours = mqttctl_ceil(x)
        let libm = Glibc.ceil(x)
        if libm.isNaN { return ours.isNaN }
        return ours == libm && ours.sign == libm.sign
    }

    @Test func agreesWithLibmAtTheEdges() {
        let edges: [Double] = [
            0, -0.0, 0.5, -0.5, 1, -1, 1.5, -1.5, 0.999_999_999_999_999_9, -0.999_999_999_999_999_9,
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, -.leastNormalMagnitude,
            0x1p52 - 0.5, -(0x1p52 - 0.5), 0x1p52, -0x1p52, 0x1p52 + 1, 0x1p53, -0x1p63, 0x1p63,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity, .nan,
            4.0 / 3.0, 12.0 / 0.75,
        ]
        for x in edges {
            #expect(agrees(x), "ceil(\(x)): ours \(mqttctl_ceil(x)), libm \(Glibc.ceil(x))")
        }
    }

    @Test func agreesWithLibmAroundEveryInteger() {
        // Each integer up to 4096, the doubles next to it, and their negatives;
        // then random values over the whole range of exponents.
        for n in 0...4096 {
            let value = Double(n)
            for x in [value, value.nextUp, value.nextDown, value + 0.5] {
                #expect(agrees(x) && agrees(-x), "ceil(±\(x))")
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            let x = Double(bitPattern: generator.next())
            if !agrees(x) {
                Issue.record("ceil(\(x)): ours \(mqttctl_ceil(x)), libm \(Glibc.ceil(x))")
                return
            }
        }
    }
}
