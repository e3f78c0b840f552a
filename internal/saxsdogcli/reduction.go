package saxsdogcli

import (
	"fmt"

	"github.com/saxsdog/saxs"
	"github.com/spf13/pflag"
)

// reduction holds the reduction options of the command line (issue 11),
// named after pyFAI's where it has one. Each one overrides the calibration
// key of the same meaning; an option not given leaves the calibration as it
// is.
type reduction struct {
	solidAngle bool
}

// addReductionFlags defines the reduction flags on fs, filling r.
func addReductionFlags(fs *pflag.FlagSet, r *reduction) {
	fs.BoolVar(&r.solidAngle, "solid-angle", false, "divide each pixel by its solid angle relative to normal incidence, as pyFAI's correctSolidAngle (calibration key Reduction.SolidAngle; default off, as the original)")
}

// apply sets the calibration keys of the reduction flags that were given
// (changed reports which) and checks the result.
func (r *reduction) apply(changed func(string) bool, cal *saxs.Calibration) error {
	if changed == nil {
		return nil
	}
	red := &saxs.Reduction{}
	if cal.Reduction != nil {
		red = cal.Reduction
	}
	if changed("solid-angle") {
		red.SolidAngle = r.solidAngle
	}
	if *red != (saxs.Reduction{}) || cal.Reduction != nil {
		cal.Reduction = red
	}
	if err := cal.Validate(); err != nil {
		return fmt.Errorf("reduction options: %w", err)
	}
	return nil
}
