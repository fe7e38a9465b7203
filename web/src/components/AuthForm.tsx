import { useApolloClient, useMutation } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '../errors.ts';
import { SIGN_IN, SIGN_UP } from '../operations.ts';
import { setSession, type Session } from '../session.ts';

export function AuthForm() {
  const [mode, setMode] = useState<'signIn' | 'signUp'>('signIn');
  const [fields, setFields] = useState({ login: '', username: '', email: '', password: '', displayName: '' });
  const [error, setError] = useState<string | null>(null);
  const [signIn, signingIn] = useMutation(SIGN_IN);
  const [signUp, signingUp] = useMutation(SIGN_UP);
  const client = useApolloClient();
  // Another identity sees other data: each session starts from an empty cache (nothing is in flight here).
  const start = async (session: Session) => {
    await client.clearStore();
    setSession(session);
  };
  const set = (name: keyof typeof fields) => (e: { target: { value: string } }) =>
    setFields((f) => ({ ...f, [name]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      if (mode === 'signIn') {
        const { data } = await signIn({ variables: { input: { login: fields.login, password: fields.password } } });
        if (data) await start(data.signIn);
      } else {
        const input = {
          username: fields.username,
          email: fields.email,
          password: fields.password,
          displayName: fields.displayName || null,
        };
        const { data } = await signUp({ variables: { input } });
        if (data) await start(data.signUp);
      }
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <div className="auth">
      <h1>Insta</h1>
      <form onSubmit={submit}>
        {mode === 'signIn' ? (
          <input
            placeholder="Username or email"
            aria-label="Username or email"
            value={fields.login}
            onChange={set('login')}
          />
        ) : (
          <>
            <input placeholder="Username" aria-label="Username" value={fields.username} onChange={set('username')} />
            <input placeholder="Email" aria-label="Email" type="email" value={fields.email} onChange={set('email')} />
            <input
              placeholder="Display name"
              aria-label="Display name"
              value={fields.displayName}
              onChange={set('displayName')}
            />
          </>
        )}
        <input
          placeholder="Password"
          aria-label="Password"
          type="password"
          value={fields.password}
          onChange={set('password')}
        />
        {error && <p className="error">{error}</p>}
        <button type="submit" disabled={signingIn.loading || signingUp.loading}>
          {mode === 'signIn' ? 'Sign in' : 'Sign up'}
        </button>
      </form>
      <button className="link" onClick={() => setMode(mode === 'signIn' ? 'signUp' : 'signIn')}>
        {mode === 'signIn' ? 'New here? Create an account' : 'Have an account? Sign in'}
      </button>
    </div>
  );
}
