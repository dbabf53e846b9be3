package store

import (
	"github.com/rkt/rkt/store/index"
)

func indexImage(key string) index.Image {
	return index.Image{Key: key, Name: "example.com/many", Labels: map[string]string{"version": key[7:12]}}
}
