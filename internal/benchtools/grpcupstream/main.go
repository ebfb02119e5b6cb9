// Command grpcupstream is the upstream of the gRPC benchmark: a grpc-go
// server of shop.v1.Users whose GetUser answers one fixed user at once,
// with gRPC's health service (for the composer's health checks).
//
//	grpcupstream -listen 127.0.0.1:18021
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	shopv1 "github.com/tuskcompose/composer/proto/shop/v1"
)

type users struct {
	shopv1.UnimplementedUsersServer
	ada *shopv1.User
}

func (u users) GetUser(context.Context, *shopv1.GetUserRequest) (*shopv1.User, error) {
	return u.ada, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18021", "address")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	shopv1.RegisterUsersServer(srv, users{ada: &shopv1.User{Id: 1, Username: "ada", Email: "ada@example.com",
		CreatedAt: timestamppb.New(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))}})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	log.Fatal(srv.Serve(ln))
}
