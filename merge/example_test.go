package merge_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/saxsdog/saxs"
	"github.com/saxsdog/saxs/merge"
)

// Two frames of 2 s exposure whose header times mark the end of the
// exposure, and a datalogger whose Ioni rises by 1 per second: each frame
// gets the mean over its exposure and the transmission |Diode/Ioni|.
func ExampleMerge() {
	t0 := time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)
	frames := []*merge.Frame{
		{File: "a_00000.tif", Time: t0.Add(2 * time.Second), Exposure: 2,
			Params: map[string]saxs.IntegralParameters{"R0": {I0: 1, I1: 2, I2: 3}}},
		{File: "a_00001.tif", Time: t0.Add(12 * time.Second), Exposure: 2,
			Params: map[string]saxs.IntegralParameters{"R0": {I0: 4, I1: 5, I2: 6}}},
	}
	var logText strings.Builder
	logText.WriteString("Time\tIoni\tDiode\n")
	for s := 0; s <= 20; s++ {
		fmt.Fprintf(&logText, "%d\t%d\t-1\n", t0.Unix()+int64(s), 10+s)
	}
	conf := &merge.Config{OutputFileBaseName: "merged", LogDataTables: []merge.LogTable{
		{TimeEpoch: "Unix", Name: "Dlogger", Files: []merge.LogFile{{LocalPath: "dlogger.log"}}}}}
	open := func(f merge.LogFile) (io.ReadCloser, string, error) {
		return io.NopCloser(strings.NewReader(logText.String())), f.LocalPath, nil
	}
	tab, err := merge.Merge(conf, frames, open)
	if err != nil {
		fmt.Println(err)
		return
	}
	tab.WriteCSV(os.Stdout)
	// Output:
	// Time,File,Exposure_time [s] (Img),I0 (R0),I1 (R0),I2 (R0),Ioni (Dlogger),Diode (Dlogger),transm (Dlogger)
	// 2024-01-02T03:04:00.000Z,a_00000.tif,2,1,2,3,11,-1,0.09090909090909091
	// 2024-01-02T03:04:10.000Z,a_00001.tif,2,4,5,6,21,-1,0.047619047619047616
}
