import { decode } from 'blurhash';
import { useEffect, useRef, useState } from 'react';
import type { MediaFieldsFragment } from '../generated/gql/graphql.ts';

/** Paints the blurhash into a tiny canvas, stretched under the image until it has loaded. */
function Blurhash({ hash, ratio }: { hash: string; ratio: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context) return;
    const [w, h] = ratio >= 1 ? [32, Math.max(1, Math.round(32 / ratio))] : [Math.max(1, Math.round(32 * ratio)), 32];
    canvas.current!.width = w;
    canvas.current!.height = h;
    const image = context.createImageData(w, h);
    image.data.set(decode(hash, w, h));
    context.putImageData(image, 0, 0);
  }, [hash, ratio]);
  return <canvas ref={canvas} className="blurhash" aria-hidden />;
}

function HlsVideo({ media }: { media: MediaFieldsFragment }) {
  const video = useRef<HTMLVideoElement>(null);
  const source = media.url ?? media.variants.find((v) => v.name === 'hls')?.url;
  const poster = media.variants.find((v) => v.name === 'poster')?.url;
  useEffect(() => {
    const element = video.current;
    if (!element || !source) return;
    if (element.canPlayType('application/vnd.apple.mpegurl')) {
      element.src = source;
      return;
    }
    let hls: { destroy(): void } | undefined;
    let cancelled = false;
    // hls.js is loaded only for the first video (a chunk of its own).
    void import('hls.js').then(({ default: Hls }) => {
      if (cancelled || !Hls.isSupported()) return;
      const player = new Hls();
      player.loadSource(source);
      player.attachMedia(element);
      hls = player;
    });
    return () => {
      cancelled = true;
      hls?.destroy();
    };
  }, [source]);
  return <video ref={video} controls muted playsInline poster={poster} data-testid="video" />;
}

export function MediaView({ media }: { media: MediaFieldsFragment }) {
  const [loaded, setLoaded] = useState(false);
  if (media.status !== 'READY') {
    return (
      <div className="media pending" data-testid="media-pending">
        {media.status === 'FAILED' ? `Failed: ${media.failureReason ?? 'unknown'}` : 'Processing…'}
      </div>
    );
  }
  const ratio = media.width && media.height ? media.width / media.height : 1;
  if (media.kind === 'VIDEO') {
    return (
      <div className="media" style={{ aspectRatio: String(ratio) }}>
        <HlsVideo media={media} />
      </div>
    );
  }
  // srcset from the WebP variants: the browser picks by its width and DPR (JPEGs are for clients without WebP).
  const webp = media.variants.filter((v) => v.contentType === 'image/webp').sort((a, b) => a.width - b.width);
  const srcSet = webp.map((v) => `${v.url} ${v.width}w`).join(', ');
  return (
    <div className="media" style={{ aspectRatio: String(ratio) }}>
      {media.blurhash && !loaded && <Blurhash hash={media.blurhash} ratio={ratio} />}
      <img
        src={media.url ?? webp.at(-1)?.url}
        srcSet={srcSet}
        sizes="(max-width: 640px) 100vw, 600px"
        alt={media.altText ?? ''}
        loading="lazy"
        onLoad={() => setLoaded(true)}
        className={loaded ? 'loaded' : ''}
        data-testid="post-image"
      />
    </div>
  );
}
