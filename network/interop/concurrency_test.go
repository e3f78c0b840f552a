package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Several clients at once, each with its own long-lived REQ socket (as the
// GUI keeps one) or a fresh socket per request (as saxsleash does): every
// reply reaches the client that asked. Each asks listdir of its own folder,
// whose reply names it.
func TestConcurrentClientsGetTheirOwnReplies(t *testing.T) {
	f := newFixture(t)
	const clients, requests = 8, 40
	for i := 0; i < clients; i++ {
		if err := os.MkdirAll(filepath.Join(f.serverdir, fmt.Sprintf("d%d", i), fmt.Sprintf("only-in-d%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // bounds every Recv below
	defer cancel()
	errs := make(chan error, clients*requests)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) { // ends after its requests, or when ctx ends
			defer wg.Done()
			dir := fmt.Sprintf("d%d", i)
			var sock zmq4.Socket
			if i%2 == 0 {
				sock = zmq4.NewReq(ctx)
				defer sock.Close()
				// tcpdl: the handshake and the whole conversation within requestLimit.
				if err := sock.Dial(strings.Replace(f.e.Server, "tcp://", "tcpdl://", 1)); err != nil {
					errs <- err
					return
				}
			}
			for k := 0; k < requests; k++ {
				req := signedRequest("listdir", `{"directory": ["`+dir+`"]}`, f.e.Secret, now())
				var b []byte
				var err error
				if sock != nil {
					if err = sock.Send(zmq4.NewMsg(req)); err == nil {
						var m zmq4.Msg
						m, err = sock.Recv()
						b = m.Bytes()
					}
				} else {
					b, err = rawRequest(t, f.e.Server, req)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %w", i, k, err)
					return
				}
				r, err := parseReply(b)
				var d struct {
					Dircontent []struct{ Path string } `json:"dircontent"`
				}
				if err == nil {
					err = json.Unmarshal(r.Data, &d)
				}
				if err != nil || r.Result != "listdir" || len(d.Dircontent) != 1 || d.Dircontent[0].Path != "only-in-"+dir {
					errs <- fmt.Errorf("client %d (listdir %s) request %d got %.200s", i, dir, k, b)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Two servers of one process with the same secret: a request accepted by
// one is a replay for the other.
func TestReplayAcrossServersOfOneProcess(t *testing.T) {
	server := binary(t, "saxsdogserver")
	secret := "5a5e5a5e5a5e5a5e5a5e5a5e5a5e5a5e"
	a, b := newEntry(t, "A", secret), newEntry(t, "B", secret)
	conf := writeNetconf(t, t.TempDir(), a, b)
	srv := start(t, 5*time.Minute, server, "--netconf", conf, "-o", t.TempDir(), t.TempDir())
	waitServer(t, conf, srv)
	req := signedRequest("stat", "{}", secret, now())
	ra, err := rawRequest(t, a.Server, req)
	if r, perr := parseReply(ra); err != nil || perr != nil || r.Result != "stat" {
		t.Fatalf("A: %v %q", err, ra)
	}
	rb, err := rawRequest(t, b.Server, req)
	if r, perr := parseReply(rb); err != nil || perr != nil || r.Result != "AuthenticationError" {
		t.Errorf("the same request at B: %v %q, want AuthenticationError", err, rb)
	}
}
