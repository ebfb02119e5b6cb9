package runner

import (
	"context"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/balancer"
)

// The composer's own gRPC services, served on the gateway's port
// (ownGRPCRoutes) unless a service's routes claim their paths: then the
// calls go to that service's instances, as any other.
//
//   - grpc.health.v1.Health about the platform's services: "" is the
//     composer itself, a service's name (or a gRPC service name one of
//     its routes serves, "shop.v1.Users") is SERVING while it has a
//     healthy instance (a builtin always), NOT_SERVING otherwise; an
//     unknown name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
//   - server reflection (v1 and v1alpha) of the gRPC services the
//     composer knows the descriptors of: its own and the built-in
//     services' APIs that the platform routes.
var ownGRPCServices = []string{
	healthpb.Health_ServiceDesc.ServiceName,
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// newOwnGRPC makes the composer's own gRPC server, read through the
// runner's current generation; it is served through ServeHTTP only.
func (r *Runner) newOwnGRPC() *grpc.Server {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, &healthService{r: r})
	opts := reflection.ServerOptions{Services: servedServices{r}}
	v1reflectiongrpc.RegisterServerReflectionServer(srv, reflection.NewServerV1(opts))
	v1alphareflectiongrpc.RegisterServerReflectionServer(srv, reflection.NewServer(opts)) // for older clients
	return srv
}

// servedServices are the gRPC services reflection lists: the composer's
// own and those of the running platform's routes whose descriptors are
// compiled in (the built-in services'), never the instances' own.
type servedServices struct{ r *Runner }

func (s servedServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	names := append([]string(nil), ownGRPCServices...)
	for name := range s.r.grpcNames() {
		names = append(names, name)
	}
	for _, name := range names {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
			out[name] = grpc.ServiceInfo{}
		}
	}
	return out
}

// grpcNames maps the gRPC service names that the running platform's
// routes serve (a route /shop.v1.Users/*method) to their services.
func (r *Runner) grpcNames() map[string]string {
	out := map[string]string{}
	g := r.gen()
	for name, s := range g.model.Services {
		for _, route := range s.Routes {
			_, path := composer.SplitRoute(route)
			if svc, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/"); ok && strings.Contains(svc, ".") && strings.HasPrefix(rest, "*") {
				out[svc] = name
			}
		}
	}
	return out
}

// servingStatus is what the health service answers about a name; ok is
// false for a name that is neither a service nor a gRPC service that one
// serves.
func (r *Runner) servingStatus(name string) (healthpb.HealthCheckResponse_ServingStatus, bool) {
	if name == "" {
		return healthpb.HealthCheckResponse_SERVING, true
	}
	g := r.gen()
	if _, ok := g.model.Services[name]; !ok {
		svc, found := r.grpcNames()[name]
		if !found {
			return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, false
		}
		name = svc
	}
	s := g.model.Services[name]
	e := g.services[name]
	switch {
	case s.Kind == "builtin":
		return healthpb.HealthCheckResponse_SERVING, true
	case e != nil:
		for _, in := range e.balancer.Instances() {
			if in.Health() == balancer.Healthy {
				return healthpb.HealthCheckResponse_SERVING, true
			}
		}
	case g.processes[name] != nil:
		for _, p := range g.processes[name].statuses() {
			if p.State == "running" {
				return healthpb.HealthCheckResponse_SERVING, true
			}
		}
	}
	return healthpb.HealthCheckResponse_NOT_SERVING, true
}

// healthService is grpc.health.v1.Health over the running platform.
type healthService struct {
	healthpb.UnimplementedHealthServer
	r *Runner
}

func (h *healthService) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, ok := h.r.servingStatus(req.GetService())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown service %q", req.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// watchEvery is how often a Watch looks at the status again.
const watchEvery = 100 * time.Millisecond

// Watch sends the status at once and then each change, until the client
// goes or the composer stops.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		st, _ := h.r.servingStatus(req.GetService())
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		case <-h.r.stopping:
			return status.Error(codes.Unavailable, "the composer is stopping")
		case <-tick.C:
		}
	}
}

// List answers the status of every service of the platform, and of
// every gRPC service one serves.
func (h *healthService) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	names := []string{""}
	for name := range h.r.gen().model.Services {
		names = append(names, name)
	}
	for name := range h.r.grpcNames() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if st, ok := h.r.servingStatus(name); ok {
			out.Statuses[name] = &healthpb.HealthCheckResponse{Status: st}
		}
	}
	return out, nil
}

// ownGRPCRoutes are the gateway routes of the composer's own gRPC
// services that the platform's routes leave free: a route whose first
// segment is the service's name claims it (its calls go to that
// service), and so does one whose first segment is a parameter or a
// catch-all (gin could not hold both).
func ownGRPCRoutes(routes []string) []string {
	var out []string
	for _, svc := range ownGRPCServices {
		free := true
		for _, route := range routes {
			first, _, _ := strings.Cut(strings.TrimPrefix(route, "/"), "/")
			if first == svc || strings.HasPrefix(first, ":") || strings.HasPrefix(first, "*") {
				free = false
				break
			}
		}
		if free {
			out = append(out, "/"+svc+"/*method")
		}
	}
	return out
}
