//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64))

package batch

// prefetch is a no-op where posix_fadvise is not wired up.
func prefetch(string) {}
