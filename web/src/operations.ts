// Every operation of the web client, typed by graphql-codegen's client preset (src/generated/gql/).
// A frontend team can copy these: they use the API as docs/api.md describes it.
import { graphql } from './generated/gql/index.ts';

export const MEDIA_FIELDS = graphql(`
  fragment MediaFields on Media {
    id
    kind
    status
    failureReason
    width
    height
    blurhash
    altText
    url
    variants {
      name
      url
      width
      height
      contentType
    }
  }
`);

export const POST_FIELDS = graphql(`
  fragment PostFields on Post {
    id
    text
    createdAt
    likeCount
    commentCount
    viewerHasLiked
    author {
      id
      username
      displayName
      avatar {
        id
        url(variant: "thumb")
      }
    }
    media {
      ...MediaFields
    }
  }
`);

export const SIGN_IN = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) {
      accessToken
      refreshToken
      accessTokenExpiresAt
      user {
        id
        username
      }
    }
  }
`);

export const SIGN_UP = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      refreshToken
      accessTokenExpiresAt
      user {
        id
        username
      }
    }
  }
`);

export const SIGN_OUT = graphql(`
  mutation SignOut {
    signOut
  }
`);

export const ME = graphql(`
  query Me {
    me {
      id
      username
      displayName
      avatar {
        id
        url(variant: "thumb")
      }
    }
    unreadNotificationCount
  }
`);

export const FEED = graphql(`
  query Feed($first: Int, $after: String) {
    feed(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...PostFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const FEED_UPDATED = graphql(`
  subscription FeedUpdated {
    feedUpdated {
      id
    }
  }
`);

export const LIKE = graphql(`
  mutation Like($postId: ID!) {
    likePost(postId: $postId) {
      id
      likeCount
      viewerHasLiked
    }
  }
`);

export const UNLIKE = graphql(`
  mutation Unlike($postId: ID!) {
    unlikePost(postId: $postId) {
      id
      likeCount
      viewerHasLiked
    }
  }
`);

export const POST_LIKED = graphql(`
  subscription PostLiked($postId: ID!) {
    postLiked(postId: $postId) {
      likeCount
      user {
        id
        username
      }
      post {
        id
        likeCount
      }
    }
  }
`);

export const COMMENT_FIELDS = graphql(`
  fragment CommentFields on Comment {
    id
    text
    createdAt
    author {
      id
      username
    }
    parent {
      id
    }
  }
`);

// Threads cost depth (docs/api.md#limits): replies carry only what the thread shows, within MAX_COST.
export const COMMENTS = graphql(`
  query Comments($postId: ID!, $after: String) {
    post(id: $postId) {
      id
      commentCount
      comments(first: 6, after: $after) {
        edges {
          cursor
          node {
            id
            text
            author {
              id
              username
            }
            replies(first: 2) {
              edges {
                node {
                  id
                  text
                  author {
                    id
                    username
                  }
                }
              }
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const ADD_COMMENT = graphql(`
  mutation AddComment($input: AddCommentInput!) {
    addComment(input: $input) {
      ...CommentFields
      post {
        id
        commentCount
      }
    }
  }
`);

export const COMMENT_ADDED = graphql(`
  subscription CommentAdded($postId: ID!) {
    commentAdded(postId: $postId) {
      ...CommentFields
      post {
        id
        commentCount
      }
    }
  }
`);

export const NOTIFICATION_FIELDS = graphql(`
  fragment NotificationFields on Notification {
    id
    type
    actorCount
    actors(first: 2) {
      id
      username
    }
    post {
      id
      text
    }
    comment {
      id
      text
    }
    read
    updatedAt
  }
`);

export const NOTIFICATIONS = graphql(`
  query Notifications($after: String) {
    notifications(first: 15, after: $after) {
      edges {
        cursor
        node {
          ...NotificationFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
    unreadNotificationCount
  }
`);

export const NOTIFICATION_RECEIVED = graphql(`
  subscription NotificationReceived {
    notificationReceived {
      ...NotificationFields
    }
  }
`);

export const MARK_READ = graphql(`
  mutation MarkNotificationsRead {
    markNotificationsRead
  }
`);

export const PROFILE = graphql(`
  query Profile($username: String!, $after: String) {
    user(username: $username) {
      id
      username
      displayName
      bio
      isPrivate
      followerCount
      followingCount
      viewerFollowStatus
      followsViewer
      avatar {
        id
        url(variant: "small")
      }
      posts(first: 12, after: $after) {
        edges {
          cursor
          node {
            id
            text
            likeCount
            commentCount
            # Variant names differ by kind (a video has "poster", no "small"): pick from the list.
            media {
              id
              kind
              status
              variants {
                name
                url
              }
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const FOLLOW = graphql(`
  mutation Follow($userId: ID!) {
    follow(userId: $userId)
  }
`);

export const UNFOLLOW = graphql(`
  mutation Unfollow($userId: ID!) {
    unfollow(userId: $userId)
  }
`);

export const BLOCK = graphql(`
  mutation Block($userId: ID!) {
    block(userId: $userId)
  }
`);

export const MUTE = graphql(`
  mutation Mute($userId: ID!) {
    mute(userId: $userId)
  }
`);

export const FOLLOW_REQUESTS = graphql(`
  query FollowRequests {
    followRequests(first: 50) {
      edges {
        cursor
        node {
          id
          username
          displayName
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const APPROVE = graphql(`
  mutation Approve($userId: ID!) {
    approveFollowRequest(userId: $userId)
  }
`);

export const REJECT = graphql(`
  mutation Reject($userId: ID!) {
    rejectFollowRequest(userId: $userId)
  }
`);

export const SEARCH = graphql(`
  query SearchUsers($query: String!) {
    searchUsers(query: $query, first: 8) {
      edges {
        cursor
        node {
          id
          username
          displayName
          avatar {
            id
            url(variant: "thumb")
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const REQUEST_UPLOAD = graphql(`
  mutation RequestUpload($input: RequestUploadInput!) {
    requestUpload(input: $input) {
      media {
        id
        status
      }
      url
      fields {
        name
        value
      }
    }
  }
`);

export const COMPLETE_UPLOAD = graphql(`
  mutation CompleteUpload($mediaId: ID!) {
    completeUpload(mediaId: $mediaId) {
      id
      status
    }
  }
`);

export const MEDIA_STATUS = graphql(`
  query MediaStatus($id: ID!) {
    media(id: $id) {
      ...MediaFields
    }
  }
`);

export const CREATE_POST = graphql(`
  mutation CreatePost($input: CreatePostInput!) {
    createPost(input: $input) {
      ...PostFields
    }
  }
`);
