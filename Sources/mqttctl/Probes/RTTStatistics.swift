/// Summary of round-trip times in milliseconds: min/avg/max/stddev
/// (population) and the nearest-rank percentiles p50/p95/p99 (the smallest
/// sample with at least that share of samples at or below it).
struct RTTStatistics: Equatable {
    let min: Double
    let avg: Double
    let max: Double
    let stddev: Double
    let p50: Double
    let p95: Double
    let p99: Double

    init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        let variance = sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sorted.count)
        func rank(_ percent: Double) -> Double {
            let index = Int((percent / 100 * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.min(Swift.max(index, 0), sorted.count - 1)]
        }
        min = sorted[0]
        max = sorted[sorted.count - 1]
        avg = mean
        stddev = variance.squareRoot()
        p50 = rank(50)
        p95 = rank(95)
        p99 = rank(99)
    }

    var json: JSON {
        .object([
            ("min", JSON.rounded(min)), ("avg", JSON.rounded(avg)), ("max", JSON.rounded(max)),
            ("stddev", JSON.rounded(stddev)),
            ("p50", JSON.rounded(p50)), ("p95", JSON.rounded(p95)), ("p99", JSON.rounded(p99)),
        ])
    }

    /// The JSON when there may be no samples: every key, null values.
    static func json(_ statistics: RTTStatistics?) -> JSON {
        statistics?.json ?? .object(["min", "avg", "max", "stddev", "p50", "p95", "p99"].map { ($0, JSON.null) })
    }

    /// "min/avg/max/stddev = 0.063/0.166/0.249/0.067 ms, p50/p95/p99 = 0.148/0.249/0.249 ms".
    var text: String {
        "min/avg/max/stddev = \(Numbers.fixed(min, 3))/\(Numbers.fixed(avg, 3))/\(Numbers.fixed(max, 3))/\(Numbers.fixed(stddev, 3)) ms, "
            + "p50/p95/p99 = \(Numbers.fixed(p50, 3))/\(Numbers.fixed(p95, 3))/\(Numbers.fixed(p99, 3)) ms"
    }
}
