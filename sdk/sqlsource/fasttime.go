package sqlsource

// Drivers that speak a text protocol (MySQL's, for one) hand dates and
// times over as "YYYY-MM-DD[ HH:MM:SS[.ffffff]]". These parse that form
// without time.Parse's layout search; anything else takes the general path.

func digits(b []byte, n int) (int64, bool) {
	var v int64
	if len(b) < n {
		return 0, false
	}
	for _, c := range b[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// CivilDays counts days from 1970-01-01 to a proleptic Gregorian date
// (month 1-12, day 1-31), as the text decoders do: for dialects decoding
// binary dates the same way.
func CivilDays(y, m, d int64) int64 { return daysFromCivil(y, m, d) }

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// fastDate parses "YYYY-MM-DD" into days since the epoch.
func fastDate(b []byte) (int64, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(b, 4)
	m, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// fastTimestamp parses "YYYY-MM-DD[ T]HH:MM:SS[.f...]" (no zone: UTC) into
// microseconds since the epoch; more than 6 fraction digits are refused so
// nothing is rounded here.
func fastTimestamp(b []byte) (int64, bool) {
	days, ok := fastDate(b)
	if !ok {
		return 0, false
	}
	if len(b) == 10 {
		return days * 86_400_000_000, true
	}
	if len(b) < 19 || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	h, ok1 := digits(b[11:], 2)
	mi, ok2 := digits(b[14:], 2)
	s, ok3 := digits(b[17:], 2)
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	us := ((days*24+h)*60+mi)*60*1_000_000 + s*1_000_000
	rest := b[19:]
	if len(rest) == 0 {
		return us, true
	}
	if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
		return 0, false
	}
	f, ok := digits(rest[1:], len(rest)-1)
	if !ok {
		return 0, false
	}
	for n := len(rest) - 1; n < 6; n++ {
		f *= 10
	}
	return us + f, true
}
