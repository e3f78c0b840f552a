package saxs

import (
	"context"
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// lmProblem is a nonlinear least-squares problem: minimise Σ r_i(p)² over
// p for n residuals.
type lmProblem struct {
	n int
	// residuals writes r(p) into r (length n).
	residuals func(p, r []float64)
	// step holds the finite-difference step of each parameter (central
	// differences).
	step []float64
}

// lmResult is the solution of an lmProblem.
type lmResult struct {
	p         []float64
	cost      float64   // Σ r²
	iter      int       // iterations done
	converged bool      // the last step changed nothing that matters
	cov       []float64 // (JᵀJ)⁻¹ at p, m×m row-major; nil when singular
	jac       []float64 // J at p, n×m row-major
}

// jacobian fills J (n×m, row-major) by central differences at p.
func (pr *lmProblem) jacobian(p, J, rp, rm []float64) {
	m := len(p)
	q := append([]float64(nil), p...)
	for j := range m {
		h := pr.step[j]
		q[j] = p[j] + h
		pr.residuals(q, rp)
		q[j] = p[j] - h
		pr.residuals(q, rm)
		q[j] = p[j]
		for i := range pr.n {
			J[i*m+j] = (rp[i] - rm[i]) / (2 * h)
		}
	}
}

// levenbergMarquardt minimises the problem from p0 with Marquardt's
// scaling (the damping multiplies the diagonal of JᵀJ). It stops when a
// step reduces the cost by less than a relative 1e-12, or when every
// parameter moves by less than 1e-9 of its finite-difference step, or
// after maxIter iterations (converged false). ctx is checked every
// iteration.
func levenbergMarquardt(ctx context.Context, pr *lmProblem, p0 []float64, maxIter int) (lmResult, error) {
	m := len(p0)
	n := pr.n
	p := append([]float64(nil), p0...)
	r := make([]float64, n)
	rt := make([]float64, n)
	rp, rm := make([]float64, n), make([]float64, n)
	J := make([]float64, n*m)
	cost := func(r []float64) float64 {
		s := 0.0
		for _, v := range r {
			s += v * v
		}
		return s
	}
	pr.residuals(p, r)
	c := cost(r)
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return lmResult{}, errors.New("residuals are not finite at the start")
	}
	mu := 1e-3
	res := lmResult{}
	A := mat.NewSymDense(m, nil)
	g := mat.NewVecDense(m, nil)
	trial := make([]float64, m)
	for res.iter = 0; res.iter < maxIter; res.iter++ {
		if err := ctx.Err(); err != nil {
			return lmResult{}, err
		}
		pr.jacobian(p, J, rp, rm)
		jtj, jtr := normalEquations(J, r, n, m)
		improved := false
		for range 30 {
			for a := range m {
				for b := a; b < m; b++ {
					v := jtj[a*m+b]
					if a == b {
						v += mu * math.Max(jtj[a*m+a], 1e-300)
					}
					A.SetSym(a, b, v)
				}
				g.SetVec(a, -jtr[a])
			}
			var ch mat.Cholesky
			if !ch.Factorize(A) {
				mu *= 10
				continue
			}
			var d mat.VecDense
			if err := ch.SolveVecTo(&d, g); err != nil {
				mu *= 10
				continue
			}
			small := true
			for j := range m {
				trial[j] = p[j] + d.AtVec(j)
				if math.Abs(d.AtVec(j)) > 1e-9*pr.step[j] {
					small = false
				}
			}
			pr.residuals(trial, rt)
			ct := cost(rt)
			if ct <= c && !math.IsNaN(ct) {
				rel := (c - ct) / math.Max(c, 1e-300)
				copy(p, trial)
				r, rt = rt, r
				c = ct
				mu = math.Max(mu/10, 1e-12)
				improved = true
				if rel < 1e-12 || small {
					res.converged = true
				}
				break
			}
			if small {
				res.converged = true
				break
			}
			mu *= 10
		}
		if !improved {
			// No step of any damping lowers the cost: a minimum to the
			// precision of the residuals.
			res.converged = true
		}
		if res.converged {
			break
		}
	}
	res.p, res.cost = p, c
	pr.jacobian(p, J, rp, rm)
	res.jac = J
	jtj, _ := normalEquations(J, r, n, m)
	for a := range m {
		for b := a; b < m; b++ {
			A.SetSym(a, b, jtj[a*m+b])
		}
	}
	var ch mat.Cholesky
	if ch.Factorize(A) {
		var inv mat.SymDense
		if err := ch.InverseTo(&inv); err == nil {
			res.cov = make([]float64, m*m)
			for a := range m {
				for b := range m {
					res.cov[a*m+b] = inv.At(a, b)
				}
			}
		}
	}
	return res, nil
}

// normalEquations returns JᵀJ (m×m) and Jᵀr.
func normalEquations(J, r []float64, n, m int) (jtj, jtr []float64) {
	jtj = make([]float64, m*m)
	jtr = make([]float64, m)
	for i := range n {
		row := J[i*m : (i+1)*m]
		for a := range m {
			jtr[a] += row[a] * r[i]
			for b := a; b < m; b++ {
				jtj[a*m+b] += row[a] * row[b]
			}
		}
	}
	for a := range m {
		for b := range a {
			jtj[a*m+b] = jtj[b*m+a]
		}
	}
	return jtj, jtr
}
