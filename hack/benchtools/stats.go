package benchtools

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// Summary is the spread of a series of timings.
type Summary struct{ Min, Median, Max time.Duration }

// Summarize returns the minimum, median and maximum of ds. The median of an
// even count is the mean of the two middle values. ds must not be empty.
func Summarize(ds []time.Duration) Summary {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{Min: s[0], Median: m, Max: s[n-1]}
}

// Ratio is a/b, or 0 when b is zero.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Contender is one thing timed in a comparison.
type Contender struct {
	// Name labels the contender in ratios; Note adds detail to its row.
	Name, Note string
	// Run does the work once; its error aborts the comparison.
	Run func(ctx context.Context) error
	// Took holds one timing per measured round.
	Took []time.Duration
}

// Interleave runs every contender once per round, in turn, for one
// unmeasured warm-up round and then n measured rounds, so that a busy
// moment of a shared machine falls on all of them alike.
func Interleave(ctx context.Context, n int, cs []*Contender, progress io.Writer) error {
	for round := 0; round <= n; round++ {
		for _, c := range cs {
			start := time.Now()
			if err := c.Run(ctx); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			if round > 0 {
				c.Took = append(c.Took, time.Since(start))
			}
		}
		if round == 0 {
			fmt.Fprintf(progress, "warm-up round done; %d measured rounds\n", n)
		} else {
			fmt.Fprintf(progress, "round %d/%d\n", round, n)
		}
	}
	return nil
}

// Report prints each contender's median, minimum and maximum, then for
// each pair the ratio of the first one's median to the second one's.
func Report(w io.Writer, cs []*Contender, pairs [][2]*Contender) {
	width := 0
	for _, c := range cs {
		width = max(width, len(c.Name))
	}
	for _, c := range cs {
		s := Summarize(c.Took)
		fmt.Fprintf(w, "%-*s  median %s  min %s  max %s  %s\n", width, c.Name, Ms(s.Median), Ms(s.Min), Ms(s.Max), c.Note)
	}
	for _, p := range pairs {
		fmt.Fprintf(w, "%s / %s: %.2f\n", p[0].Name, p[1].Name, Ratio(Summarize(p[0].Took).Median, Summarize(p[1].Took).Median))
	}
}

// Ms formats d in whole milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%6d ms", d.Milliseconds()) }
