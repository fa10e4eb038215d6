package main

// Image volumes exist in the API of the newest Kubernetes only: this file is built into the
// oracle against it (tests/e2e/cluster.sh build_oracle), not into the one against 1.20.

import (
	"encoding/json"

	v1 "k8s.io/api/core/v1"
)

func init() {
	// kuberuntime's getImageVolumes: every volume with an image source, in spec order; its
	// reference is pulled as it is (an empty one fails to pull).
	imageVolumes = func(raw json.RawMessage) ([]podImage, error) {
		var spec v1.PodSpec
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, err
		}
		var found []podImage
		for _, volume := range spec.Volumes {
			if volume.Image == nil {
				continue
			}
			found = append(found, podImage{Image: volume.Image.Reference, Volume: volume.Name})
		}
		return found, nil
	}
}
