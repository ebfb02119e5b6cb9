module github.com/tuskcompose/composer

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/alecthomas/participle/v2 v2.1.4
	gopkg.in/yaml.v3 v3.0.1
)
