extension Array where Element == String {
    /// Whether this array, sorted, holds `name`: a binary search. Option-name
    /// lists read at every start are sorted arrays, not `Set`s, whose hashing
    /// cost every start 270 K instructions (bench/README.md).
    func sortedContains(_ name: String) -> Bool {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < name { low = middle + 1 } else { high = middle }
        }
        return low < count && self[low] == name
    }
}
