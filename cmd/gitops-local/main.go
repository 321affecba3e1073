// Command gitops-local runs a local Kubernetes preview of Ghillie that is the
// same GitOps deployment as the cloud's ephemeral previews.
package main

import (
	"os"

	"github.com/leynos/gitops-local/cmd/gitops-local/app"
)

func main() {
	os.Exit(app.Main())
}
