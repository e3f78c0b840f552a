package web

import (
	"encoding/json"
	"strconv"
	"testing"
)

// BenchmarkPlotEvent turns a plot reply after 100 000 frames (an hour at
// about 30 frames per second; the server keeps the integral parameters of
// the queue's lifetime) with a 1000-point curve into the encoded plot
// event, as the watch does at most once a second.
func BenchmarkPlotEvent(b *testing.B) {
	const frames, points = 100_000, 1000
	num := func(i int) json.Number { return json.Number(strconv.FormatFloat(float64(i)*0.001+1, 'g', -1, 64)) }
	series := func() []any {
		s := make([]any, frames)
		for i := range s {
			s[i] = num(i)
		}
		return s
	}
	col := func() []any {
		c := make([]any, points)
		for i := range c {
			c[i] = num(i)
		}
		return c
	}
	hist := make([]any, 3000)
	for i := range hist {
		hist[i] = json.Number(strconv.FormatFloat(1000-float64(i)/30, 'f', 3, 64))
	}
	files := make([]any, frames)
	for i := range files {
		files[i] = "run/f_" + strconv.Itoa(i)
	}
	d := map[string]any{"filename": "run/f_99999",
		"graphs":  []any{map[string]any{"array": []any{col(), col(), col()}}},
		"history": hist,
		"IntegralParameters": map[string]any{"R0": map[string]any{"I0": series(), "I1": series(), "I2": series(),
			"file": files}},
	}
	b.ReportAllocs()
	for b.Loop() {
		p := compactPlot(d, 1000)
		if _, err := json.Marshal(browserValue(p)); err != nil {
			b.Fatal(err)
		}
	}
}
