// Command gen writes Flux's install manifests for the pinned controller
// versions. Run it with `go generate ./bootstrap/flux`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/leynos/gitops-local/bootstrap/flux/internal/manifestgen"
)

func main() {
	out := flag.String("o", "manifests/flux.yaml", "file to write")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	y, err := manifestgen.Generate(ctx, manifestgen.GoModDownload)
	if err != nil {
		return err
	}
	return os.WriteFile(out, y, 0o644)
}
