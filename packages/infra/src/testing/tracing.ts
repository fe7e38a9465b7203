import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { installTracing } from '../tracing/tracing.ts';

export interface FinishedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: ReadableSpan['attributes'];
}

/** Tracing of this process into memory (every trace sampled), for tests; `stop()` unregisters it. */
export function startInMemoryTracing() {
  const exporter = new InMemorySpanExporter();
  const tracing = installTracing('test', [new SimpleSpanProcessor(exporter)]);
  return {
    spans: (): FinishedSpan[] =>
      exporter.getFinishedSpans().map((span) => ({
        name: span.name,
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        attributes: span.attributes,
      })),
    reset: () => exporter.reset(),
    stop: () => tracing.shutdown(),
  };
}
