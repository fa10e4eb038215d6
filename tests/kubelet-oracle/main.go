// Command kubelet-oracle answers, for pull Secrets and an image, what the kubelet would do:
// it runs the kubelet's own code (k8s.io/kubernetes) on each case, in the order the image
// manager does (pkg/kubelet/images/image_manager.go, makeLookupPullCredentialsFunc):
//
//  1. parsers.ParseImageName, as the image puller parses the image;
//  2. secrets.MakeDockerKeyring over the Pod's pull Secrets;
//  3. Lookup of the repository to pull.
//
// Input: one JSON object a line, {"image": "...", "secrets": [<v1.Secret>, ...]}, or
// {"pod": <v1.PodSpec>, "secrets": [...]} for every image the Pod makes the kubelet pull.
// Output: one JSON object a line, with exactly one of image_error, keyring_error or creds;
// for a Pod, {"images": [{"image": ..., "volume": ..., and that answer}, ...]}.
// The test suite (src/rules differential test) drives it; docs/semantics.md says why.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/util/parsers"
)

type request struct {
	Image    string          `json:"image"`
	Pod      json.RawMessage `json:"pod,omitempty"`
	Provider json.RawMessage `json:"providers_case,omitempty"`
	Secrets  []v1.Secret     `json:"secrets"`
}

// podImage is an image a Pod pulls, and the image volume that names it, if one does.
type podImage struct {
	Image  string `json:"image"`
	Volume string `json:"volume,omitempty"`
}

// modes are other ways to run this binary (argv[1]), and providerCase answers a request
// about node credential providers; providers.go fills both in where the kubelet has
// ServiceAccount-token providers, and the oracle built from 1.20 leaves them empty.
var (
	modes        = map[string]func(){}
	providerCase func(raw json.RawMessage) interface{}
)

// imageVolumes lists a Pod's image volumes (KEP-4639). image_volumes.go sets it where the
// API has them; the oracle built from Kubernetes 1.20, which has none, leaves it nil.
var imageVolumes func(pod json.RawMessage) ([]podImage, error)

type podAnswer struct {
	Images []imageAnswer `json:"images"`
	Error  *string       `json:"error,omitempty"`
}

type imageAnswer struct {
	podImage
	answer
}

// podImages lists what the kubelet pulls for a Pod, in its order: every container's image
// (podutil.VisitContainers: init containers, containers, ephemeral containers), then the
// image volumes'. Each is pulled with the Pod's pull Secrets (kuberuntime_manager.go,
// SyncPod and getImageVolumes).
func podImages(raw json.RawMessage) ([]podImage, error) {
	var spec v1.PodSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	var found []podImage
	podutil.VisitContainers(&spec, podutil.AllContainers, func(c *v1.Container, _ podutil.ContainerType) bool {
		found = append(found, podImage{Image: c.Image})
		return true
	})
	if imageVolumes != nil {
		volumes, err := imageVolumes(raw)
		if err != nil {
			return nil, err
		}
		found = append(found, volumes...)
	}
	return found, nil
}

func decidePod(req request) podAnswer {
	images, err := podImages(req.Pod)
	if err != nil {
		msg := err.Error()
		return podAnswer{Error: &msg}
	}
	out := podAnswer{Images: []imageAnswer{}}
	for _, image := range images {
		out.Images = append(out.Images, imageAnswer{image, decide(request{Image: image.Image, Secrets: req.Secrets})})
	}
	return out
}

type credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

type answer struct {
	Repository   string        `json:"repository,omitempty"`
	ImageError   *string       `json:"image_error,omitempty"`
	KeyringError *string       `json:"keyring_error,omitempty"`
	Creds        *[]credential `json:"creds,omitempty"`
}

func decide(req request) answer {
	repo, _, _, err := parsers.ParseImageName(req.Image)
	if err != nil {
		msg := err.Error()
		return answer{ImageError: &msg}
	}
	keyring, err := secrets.MakeDockerKeyring(req.Secrets, credentialprovider.UnionDockerKeyring{})
	if err != nil {
		msg := err.Error()
		return answer{Repository: repo, KeyringError: &msg}
	}
	found, _ := keyring.Lookup(repo)
	creds := make([]credential, 0, len(found))
	for _, c := range found {
		creds = append(creds, credential{c.Username, c.Password, c.Email})
	}
	return answer{Repository: repo, Creds: &creds}
}

func main() {
	// The keyring logs each key it skips; the answers say all that matters.
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	_ = flags.Set("logtostderr", "false")
	_ = flags.Set("alsologtostderr", "false")
	_ = flags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	if len(os.Args) > 1 {
		if mode, ok := modes[os.Args[1]]; ok {
			mode()
			return
		}
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "kubelet-oracle: bad request: %v\n", err)
			os.Exit(2)
		}
		var reply interface{}
		switch {
		case req.Provider != nil && providerCase != nil:
			reply = providerCase(req.Provider)
		case req.Provider != nil:
			msg := "this oracle has no credential providers"
			reply = answer{ImageError: &msg}
		case req.Pod != nil:
			reply = decidePod(req)
		default:
			reply = decide(req)
		}
		if err := enc.Encode(reply); err != nil {
			fmt.Fprintf(os.Stderr, "kubelet-oracle: %v\n", err)
			os.Exit(1)
		}
		// One answer per request, at once: the caller may be waiting on it.
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-oracle: %v\n", err)
		os.Exit(1)
	}
}
