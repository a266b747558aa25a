package actors

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// slogBridge sends protoactor's log/slog output to logrus. Protoactor logs routine events
// (system start, supervision, dead letters) at info; they go to logrus at debug, warnings and
// errors at their level.
type slogBridge struct {
	log    logrus.FieldLogger
	level  func() logrus.Level
	fields logrus.Fields
	group  string
}

func newSlogBridge(log *logrus.Logger) *slogBridge {
	return &slogBridge{log: log, level: log.GetLevel, fields: logrus.Fields{"component": "protoactor"}}
}

func toLogrus(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.DebugLevel
	}
	return logrus.TraceLevel
}

func (b *slogBridge) Enabled(_ context.Context, l slog.Level) bool {
	return toLogrus(l) <= b.level()
}

func (b *slogBridge) Handle(_ context.Context, r slog.Record) error {
	fields := make(logrus.Fields, len(b.fields)+r.NumAttrs())
	for k, v := range b.fields {
		fields[k] = v
	}
	r.Attrs(func(a slog.Attr) bool {
		fields[b.key(a.Key)] = a.Value.String()
		return true
	})
	b.log.WithFields(fields).Log(toLogrus(r.Level), r.Message)
	return nil
}

func (b *slogBridge) key(k string) string {
	if b.group == "" {
		return k
	}
	return b.group + "." + k
}

func (b *slogBridge) WithAttrs(attrs []slog.Attr) slog.Handler {
	nb := *b
	nb.fields = make(logrus.Fields, len(b.fields)+len(attrs))
	for k, v := range b.fields {
		nb.fields[k] = v
	}
	for _, a := range attrs {
		nb.fields[b.key(a.Key)] = a.Value.String()
	}
	return &nb
}

func (b *slogBridge) WithGroup(name string) slog.Handler {
	nb := *b
	nb.group = b.key(name)
	return &nb
}
