import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { addLogMixin } from '../logger.ts';

/**
 * OpenTelemetry traces (ADR 14). Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then every process exports over
 * OTLP/HTTP, sampling OTEL_TRACES_SAMPLER_ARG of the traces that start in it (parent-based: a trace the
 * gateway sampled is sampled everywhere). Without a provider the API is a no-op, so the spans below cost
 * nothing. W3C `traceparent` links the spans: gateway → subgraphs (HTTP headers), and through events (the
 * `traceparent` the outbox stores with each event) to the consumers and the gateway's realtime delivery.
 */
const tracer = () => trace.getTracer('insta');

export interface TracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_TRACES_SAMPLER_ARG?: string | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
}

export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * The sampler of spans that start a trace: `ratio` of them, except Prisma's. Prisma makes a span for every query,
 * so its spans belong in a request's trace (children, sampled as their parent is); one with no parent is the
 * outbox relay's poll or another background query, which would be a root trace per second per process.
 */
class RootSampler implements Sampler {
  constructor(private readonly ratio: Sampler) {}

  shouldSample(...args: Parameters<Sampler['shouldSample']>): SamplingResult {
    const name = args[2];
    if (name.startsWith('prisma:')) return { decision: SamplingDecision.NOT_RECORD };
    return this.ratio.shouldSample(...args);
  }

  toString() {
    return `RootSampler{not prisma:*, ${this.ratio.toString()}}`;
  }
}

let installed: { provider: NodeTracerProvider; prisma: PrismaInstrumentation } | null = null;

/**
 * `fn()` as the span helpers below run it when no tracer provider is installed. Without one the OpenTelemetry API
 * is a no-op (no propagator, no context manager, non-recording spans), so they skip it altogether: a request that
 * no sampler can see pays no span, context or header work (ADR 19). A synchronous throw still comes back as a
 * rejection, as from `inSpan`.
 */
function untraced<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Registers the global tracer provider with `processors`; idempotent per process (the first one wins). Prisma's
 * tracing is turned on with it (@prisma/instrumentation, the version of @prisma/client): a span per query
 * (`prisma:client:operation`) with one per SQL statement (`prisma:client:db_query`) under it.
 */
export function installTracing(service: string, processors: SpanProcessor[], ratio = 1): Tracing {
  if (!installed) {
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      sampler: new ParentBasedSampler({ root: new RootSampler(new TraceIdRatioBasedSampler(ratio)) }),
      spanProcessors: processors,
    });
    provider.register({ propagator: new W3CTraceContextPropagator() });
    // Compiling a query plan and turning rows into objects are CPU steps an operator need not see.
    const prisma = new PrismaInstrumentation({ ignoreSpanTypes: ['prisma:client:serialize', 'prisma:client:compile'] });
    prisma.setTracerProvider(provider);
    prisma.enable();
    installed = { provider, prisma };
  }
  const mine = installed;
  return {
    shutdown: async () => {
      if (installed !== mine) return;
      installed = null;
      mine.prisma.disable();
      await mine.provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** Tracing as the environment says: OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, or off (null). */
export function startTracing(service: string, env: TracingEnv = process.env): Tracing | null {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  const ratio = env.OTEL_TRACES_SAMPLER_ARG ? Number(env.OTEL_TRACES_SAMPLER_ARG) : 1;
  if (!(ratio >= 0 && ratio <= 1)) throw new Error('OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1');
  // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS) itself and posts to <endpoint>/v1/traces.
  return installTracing(env.OTEL_SERVICE_NAME ?? service, [new BatchSpanProcessor(new OTLPTraceExporter())], ratio);
}

addLogMixin(() => {
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
});

const headerGetter = {
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
};

/** Runs `fn` in `span`, ending it (an exception marks it failed and is rethrown). */
async function inSpan<T>(span: Span, parent: Context, fn: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** A server span for one incoming HTTP request, child of the caller's `traceparent` when it sent one. */
export function withServerSpan<T>(
  name: string,
  headers: IncomingHttpHeaders,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  if (!installed) return untraced(fn);
  const parent = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return inSpan(span, parent, fn);
}

/**
 * A client span for one command to a store (a Redis command, or a batch of them sent as one), ended when `reply`
 * settles. Only inside a sampled trace: a command no request waits for (a poller's) starts no trace of its own.
 */
export function traceCommand(name: string, attributes: Attributes, reply: Promise<unknown>): void {
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return;
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  reply.then(
    () => span.end(),
    (error: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
    },
  );
}

/** A client span for an outgoing call; `inject` receives the headers that carry it (`traceparent`). */
export function withClientSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  // Without a provider there is no span to start and no propagator to write `traceparent`: no headers to add.
  if (!installed) return untraced(() => fn({}));
  const parent = context.active();
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return inSpan(span, parent, () => fn(headers));
}

/**
 * An internal span (a unit of work inside a request: a DataLoader batch), child of the active span. Outside a
 * sampled trace it is not started at all: background work (pollers, timers) makes no root traces of its own, and
 * the 90 % of requests a 10 % sampler drops pay nothing for it.
 */
export function withInternalSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  return inSpan(tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent), parent, fn);
}

/** The active span's `traceparent`, to store with an event (the outbox) so its consumers join the trace. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** A consumer span for handling one event, child of the `traceparent` it was published with (if any). */
export function withEventSpan<T>(
  name: string,
  traceparent: unknown,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  if (!installed) return untraced(fn);
  const parent =
    typeof traceparent === 'string' ? propagation.extract(ROOT_CONTEXT, { traceparent }, headerGetter) : ROOT_CONTEXT;
  const span = tracer().startSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent);
  return inSpan(span, parent, fn);
}

/** The `traceparent` an event payload carries (the outbox adds it to the envelope), if any. */
export const eventTraceparent = (data: unknown): unknown =>
  data && typeof data === 'object' ? (data as { traceparent?: unknown }).traceparent : undefined;
