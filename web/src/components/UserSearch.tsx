import { useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { SEARCH } from '../operations.ts';
import { navigate, profileHref } from '../route.ts';

/** Typeahead: the query goes out 200 ms after the last keystroke; results are a prefix match (docs/api.md). */
export function UserSearch() {
  const [text, setText] = useState('');
  const [query, setQuery] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setQuery(text.trim()), 200);
    return () => clearTimeout(timer);
  }, [text]);
  const { data } = useQuery(SEARCH, { variables: { query }, skip: query.length === 0 });
  const results = query ? (data?.searchUsers.edges ?? []) : [];
  return (
    <div className="search">
      <input
        placeholder="Search people"
        aria-label="Search people"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      {results.length > 0 && (
        <ul className="results" role="listbox">
          {results.map(({ node }) => (
            <li key={node.id} role="option" aria-selected={false}>
              <a
                href={profileHref(node.username)}
                onClick={(e) => {
                  e.preventDefault();
                  setText('');
                  navigate(profileHref(node.username));
                }}
              >
                {node.avatar?.url && <img className="avatar" src={node.avatar.url} alt="" />}@{node.username}
                {node.displayName && <small> {node.displayName}</small>}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
