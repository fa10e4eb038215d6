package main

// Node credential providers (KEP-2133, KEP-4412), as the kubelet of the newest Kubernetes
// reads and runs them: this file is built into the oracle against it (tests/e2e/cluster.sh
// build_oracle), not into the one against 1.20.
//
// A case runs in a child process of its own, because the kubelet registers its providers
// once per process (plugin.RegisterCredentialProviderPlugins). The child writes the case's
// CredentialProviderConfig to a file, puts one executable per provider name in a plugin
// directory (each runs this binary in "plugin" mode), registers them with the kubelet's
// loader, and looks the image up through the kubelet's keyrings in the image manager's
// order: the Pod's pull Secrets, then the providers (image_manager.go,
// makeLookupPullCredentialsFunc). A plugin answers with its own name as the username, so
// the answer tells which providers the kubelet called, and in what order.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/plugin"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/util/parsers"
)

type providerRequest struct {
	Config         string          `json:"config"`
	Binaries       []string        `json:"binaries"`
	Image          string          `json:"image"`
	Secrets        []v1.Secret     `json:"secrets"`
	ServiceAccount *serviceAccount `json:"service_account,omitempty"`
}

type serviceAccount struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations"`
}

type providerAnswer struct {
	ConfigError *string `json:"config_error,omitempty"`
	answer
}

func init() {
	modes["plugin"] = runAsPlugin
	modes["provider-case"] = runProviderCase
	providerCase = func(raw json.RawMessage) interface{} {
		self, err := os.Executable()
		if err != nil {
			return oracleFailure(err)
		}
		cmd := exec.Command(self, "provider-case")
		cmd.Stdin = bytes.NewReader(raw)
		out, err := cmd.Output()
		if err != nil {
			return oracleFailure(err)
		}
		return json.RawMessage(bytes.TrimSpace(out))
	}
}

func oracleFailure(err error) interface{} {
	return map[string]string{"oracle_error": err.Error()}
}

func runProviderCase() {
	var req providerRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-oracle: bad provider case: %v\n", err)
		os.Exit(2)
	}
	reply := decideProviders(req)
	if err := json.NewEncoder(os.Stdout).Encode(reply); err != nil {
		os.Exit(1)
	}
}

func decideProviders(req providerRequest) providerAnswer {
	dir, err := os.MkdirTemp("", "kubelet-oracle-providers")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	configPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configPath, []byte(req.Config), 0o600); err != nil {
		panic(err)
	}
	binDir := filepath.Join(dir, "bin")
	if err := os.Mkdir(binDir, 0o700); err != nil {
		panic(err)
	}
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	for _, name := range req.Binaries {
		script := fmt.Sprintf("#!/bin/sh\nexec '%s' plugin '%s'\n", self, name)
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(script), 0o700); err != nil {
			panic(err)
		}
	}
	getToken := func(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		tr.Status.Token = "service-account-token"
		return tr, nil
	}
	getServiceAccount := func(namespace, name string) (*v1.ServiceAccount, error) {
		if req.ServiceAccount == nil || req.ServiceAccount.Name != name {
			return nil, fmt.Errorf("serviceaccount %s/%s not found", namespace, name)
		}
		return &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace, UID: "sa-uid", Annotations: req.ServiceAccount.Annotations,
		}}, nil
	}
	if err := plugin.RegisterCredentialProviderPlugins(configPath, binDir, getToken, getServiceAccount); err != nil {
		msg := err.Error()
		return providerAnswer{ConfigError: &msg}
	}
	repo, _, _, err := parsers.ParseImageName(req.Image)
	if err != nil {
		msg := err.Error()
		return providerAnswer{answer: answer{ImageError: &msg}}
	}
	accountName := ""
	if req.ServiceAccount != nil {
		accountName = req.ServiceAccount.Name
	}
	external := plugin.NewExternalCredentialProviderDockerKeyring("ns", "pod", "pod-uid", accountName)
	keyring, err := secrets.MakeDockerKeyring(req.Secrets, credentialprovider.UnionDockerKeyring{external})
	if err != nil {
		msg := err.Error()
		return providerAnswer{answer: answer{Repository: repo, KeyringError: &msg}}
	}
	found, _ := keyring.Lookup(repo)
	creds := make([]credential, 0, len(found))
	for _, c := range found {
		creds = append(creds, credential{c.Username, c.Password, c.Email})
	}
	return providerAnswer{answer: answer{Repository: repo, Creds: &creds}}
}

// runAsPlugin speaks the exec protocol as provider os.Args[2]: a credential for the image
// asked about, with the provider's name as the username, cached by nobody.
func runAsPlugin() {
	var request map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&request); err != nil {
		os.Exit(1)
	}
	image, _ := request["image"].(string)
	response := map[string]interface{}{
		"kind":          "CredentialProviderResponse",
		"apiVersion":    request["apiVersion"],
		"cacheKeyType":  "Image",
		"cacheDuration": "0s",
		"auth": map[string]interface{}{
			image: map[string]string{"username": "provider:" + os.Args[2], "password": "pw"},
		},
	}
	if err := json.NewEncoder(os.Stdout).Encode(response); err != nil {
		os.Exit(1)
	}
}
