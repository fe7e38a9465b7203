import { useApolloClient, useMutation } from '@apollo/client/react';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { prependEdge } from '../cache.ts';
import { errorMessage } from '../errors.ts';
import type { MediaFieldsFragment } from '../generated/gql/graphql.ts';
import { COMPLETE_UPLOAD, CREATE_POST, MEDIA_STATUS, REQUEST_UPLOAD } from '../operations.ts';
import { navigate } from '../route.ts';
import { MediaView } from './MediaView.tsx';

type Stage =
  | { step: 'choose' }
  | { step: 'uploading'; progress: number }
  | { step: 'processing'; mediaId: string }
  | { step: 'ready'; media: MediaFieldsFragment }
  | { step: 'failed'; message: string };

/** The pre-signed POST: the ticket's fields, then the file last, named `file` (docs/api.md#uploads). */
function postForm(url: string, fields: { name: string; value: string }[], file: File, onProgress: (p: number) => void) {
  return new Promise<void>((resolve, reject) => {
    const form = new FormData();
    for (const { name, value } of fields) form.append(name, value);
    form.append('file', file);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () =>
      xhr.status < 300 ? resolve() : reject(new Error(`The upload was refused (HTTP ${xhr.status})`));
    xhr.onerror = () => reject(new Error('The upload failed (network)'));
    xhr.send(form);
  });
}

export function Upload() {
  const client = useApolloClient();
  const [stage, setStage] = useState<Stage>({ step: 'choose' });
  const [text, setText] = useState('');
  const idempotencyKey = useRef(crypto.randomUUID());
  const [requestUpload] = useMutation(REQUEST_UPLOAD);
  const [completeUpload] = useMutation(COMPLETE_UPLOAD);
  const [createPost, posting] = useMutation(CREATE_POST);

  // Processing takes a second or two: poll media(id:) until READY or FAILED.
  const processingId = stage.step === 'processing' ? stage.mediaId : null;
  useEffect(() => {
    if (!processingId) return;
    let stopped = false;
    const poll = async () => {
      while (!stopped) {
        const { data } = await client.query({
          query: MEDIA_STATUS,
          variables: { id: processingId },
          fetchPolicy: 'network-only',
        });
        const media = data?.media;
        if (media?.status === 'READY') return setStage({ step: 'ready', media });
        if (media?.status === 'FAILED')
          return setStage({ step: 'failed', message: `Processing failed: ${media.failureReason ?? 'unknown reason'}` });
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    };
    poll().catch((err: unknown) => setStage({ step: 'failed', message: errorMessage(err) }));
    return () => {
      stopped = true;
    };
  }, [processingId, client]);

  const choose = async (file: File) => {
    try {
      setStage({ step: 'uploading', progress: 0 });
      const { data } = await requestUpload({ variables: { input: { contentType: file.type, size: file.size } } });
      if (!data) throw new Error('No upload ticket');
      const ticket = data.requestUpload;
      await postForm(ticket.url, ticket.fields, file, (progress) => setStage({ step: 'uploading', progress }));
      await completeUpload({ variables: { mediaId: ticket.media.id } });
      setStage({ step: 'processing', mediaId: ticket.media.id });
    } catch (err) {
      setStage({ step: 'failed', message: errorMessage(err) });
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (stage.step !== 'ready') return;
    try {
      await createPost({
        variables: {
          input: { text: text || null, mediaIds: [stage.media.id], idempotencyKey: idempotencyKey.current },
        },
        // Your own post goes to the top of your feed at once (the fan-out reaches your followers in the background).
        update: (cache, { data }) => {
          if (!data) return;
          cache.modify({
            fields: {
              feed: (existing, { toReference }) => prependEdge(existing, 'PostEdge', toReference(data.createPost)),
            },
          });
        },
      });
      navigate('#/');
    } catch (err) {
      setStage({ step: 'failed', message: errorMessage(err) });
    }
  };

  return (
    <section className="upload">
      <h2>New post</h2>
      {stage.step === 'choose' && (
        <input
          type="file"
          accept="image/*,video/*"
          aria-label="Photo or video"
          onChange={(e) => e.target.files?.[0] && void choose(e.target.files[0])}
        />
      )}
      {stage.step === 'uploading' && (
        <label>
          Uploading… <progress value={stage.progress} max={1} data-testid="upload-progress" />{' '}
          {Math.round(stage.progress * 100)}%
        </label>
      )}
      {stage.step === 'processing' && <p data-testid="processing">Processing…</p>}
      {stage.step === 'failed' && (
        <>
          <p className="error">{stage.message}</p>
          <button onClick={() => setStage({ step: 'choose' })}>Try another file</button>
        </>
      )}
      {stage.step === 'ready' && (
        <form onSubmit={submit}>
          <MediaView media={stage.media} />
          <textarea
            placeholder="Write a caption… #hashtags @mentions"
            aria-label="Caption"
            value={text}
            onChange={(e) => setText(e.target.value)}
            maxLength={2200}
          />
          <button type="submit" disabled={posting.loading}>
            Share
          </button>
        </form>
      )}
    </section>
  );
}
