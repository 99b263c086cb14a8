module github.com/otpki/workitems

go 1.24

require (
	github.com/google/uuid v1.6.0
	github.com/hashicorp/go-memdb v1.3.5
	go.uber.org/zap v1.28.0
)

require (
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/golang-lru v0.5.4 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
