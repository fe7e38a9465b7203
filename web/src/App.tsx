import { useApolloClient, useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { AuthForm } from './components/AuthForm.tsx';
import { Feed } from './components/Feed.tsx';
import { FollowRequests } from './components/FollowRequests.tsx';
import { Notifications, notificationText } from './components/Notifications.tsx';
import { Profile } from './components/Profile.tsx';
import { UserSearch } from './components/UserSearch.tsx';
import { Upload } from './components/Upload.tsx';
import { prependEdge } from './cache.ts';
import { ME, NOTIFICATION_RECEIVED, SIGN_OUT } from './operations.ts';
import { profileHref, useRoute } from './route.ts';
import { getSession, onSessionChange, setSession } from './session.ts';

const subscribeSession = (onChange: () => void) => onSessionChange(onChange);

export function App() {
  const session = useSyncExternalStore(subscribeSession, getSession);
  if (!session) return <AuthForm />;
  return <SignedIn username={session.user.username} />;
}

function SignedIn({ username }: { username: string }) {
  const route = useRoute();
  const { data } = useQuery(ME);
  const [signOut] = useMutation(SIGN_OUT);
  const [toast, setToast] = useState<string | null>(null);
  const client = useApolloClient();

  // Live notifications: the cache merges a grouped notification by id; a new group goes to the top of the list.
  useSubscription(NOTIFICATION_RECEIVED, {
    onData: ({ data: event }) => {
      const notification = event.data?.notificationReceived;
      if (!notification) return;
      setToast(notificationText(notification));
      // The unread count of a group that grew is the server's to say.
      void client.refetchQueries({ include: ['Me'] });
      client.cache.modify({
        fields: {
          notifications: (existing, { toReference }) =>
            prependEdge(existing, 'NotificationEdge', toReference(notification)),
        },
      });
    },
  });
  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(null), 6000);
    return () => clearTimeout(timer);
  }, [toast]);

  const unread = data?.unreadNotificationCount ?? 0;
  return (
    <div className="app">
      <header className="top">
        <a className="logo" href="#/">
          Insta
        </a>
        <UserSearch />
        <nav>
          <a href="#/">Feed</a>
          <a href="#/upload">New post</a>
          <a href="#/notifications" data-testid="notifications-link">
            Notifications
            {unread > 0 && (
              <span className="badge" data-testid="unread-count">
                {unread}
              </span>
            )}
          </a>
          <a href={profileHref(username)}>@{username}</a>
          <button
            className="link"
            onClick={async () => {
              await signOut().catch(() => undefined);
              setSession(null);
            }}
          >
            Sign out
          </button>
        </nav>
      </header>
      {toast && (
        <div className="toast" role="status" data-testid="toast">
          {toast}
        </div>
      )}
      <main>
        {route.view === 'feed' && <Feed />}
        {route.view === 'upload' && <Upload />}
        {route.view === 'notifications' && <Notifications />}
        {route.view === 'requests' && <FollowRequests />}
        {route.view === 'profile' && <Profile username={route.username} />}
      </main>
    </div>
  );
}
