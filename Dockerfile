# Multi-stage build of the ssp binary: build with the Go toolchain, run on distroless.
#   docker build -t ssp --build-arg VERSION=0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ssp ./cmd/ssp

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ssp /usr/local/bin/ssp
USER nonroot:nonroot
# The HTTP service (SPEC §1) listens on 8667 (SPKY_SSP_LISTEN_ADDR); configure it with SPKY_* env vars.
EXPOSE 8667
ENTRYPOINT ["/usr/local/bin/ssp"]
CMD ["serve"]
