// Package suggest finds the name a user probably meant: for misspelt
// variables, subcommands and connector options.
package suggest

// Nearest is the name with the smallest edit distance to k ("" when names
// is empty).
func Nearest(k string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := Distance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// Likely is Nearest when it is close enough to be a typo of k, else "".
func Likely(k string, names []string) string {
	n := Nearest(k, names)
	if n == "" || Distance(k, n) > max(2, len(k)/2) {
		return ""
	}
	return n
}

// Distance is the Levenshtein distance of a and b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
