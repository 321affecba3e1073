package progress

import (
	"bytes"
	"io"
	"sync"
)

// DetailWriter returns a writer that reports each complete line written to
// it as a detail line of log (shown with -v): for the output of tools the
// library drives, such as a Docker build or k3d's own log.
func DetailWriter(log Logger, prefix string) io.Writer {
	return &detailWriter{log: log, prefix: prefix}
}

type detailWriter struct {
	log    Logger
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (w *detailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil { // no complete line left: keep the rest
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		if line = line[:len(line)-1]; line != "" {
			w.log.Debugf("%s%s", w.prefix, line)
		}
	}
}
