/// RFC 3339 timestamps in UTC with whole seconds (`2026-12-06T14:42:49Z`),
/// as the control flags and fedmailctl's output write times: the same text
/// Foundation's `ISO8601DateFormatter` gives with its default options, made
/// with integer arithmetic so the core needs no import.
public enum RFC3339 {
    /// The earliest and latest instants written (0001-01-01T00:00:00Z and
    /// 9999-12-31T23:59:59Z); times outside are written as these bounds.
    public static let range: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

    /// `seconds` since 1970-01-01T00:00:00Z, fractions dropped toward the past.
    public static func format(secondsSince1970 seconds: Double) -> String {
        guard seconds.isFinite else { return format(secondsSince1970: seconds > 0 ? range.upperBound : range.lowerBound) }
        let clamped = min(max(seconds.rounded(.down), Double(range.lowerBound)), Double(range.upperBound))
        return format(secondsSince1970: Int64(clamped))
    }

    /// `seconds` since 1970-01-01T00:00:00Z.
    public static func format(secondsSince1970 seconds: Int64) -> String {
        let seconds = min(max(seconds, range.lowerBound), range.upperBound)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "Z"
    }

    /// Year, month, day of the proleptic Gregorian calendar for a day count
    /// since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (era, dayOfEra) = floorDivision(days + 719_468, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = value % divisor
        return remainder < 0 ? (value / divisor - 1, remainder + divisor) : (value / divisor, remainder)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
