// purpose: how many relationships user $user_id has (interactions, RECOMMENDED), counted before the user is erased
// params: $user_id
// example: {"user_id": "A3G6XNM240RMWA"}
// used by: cartograph forget-user and DELETE /users/{user_id} (api/privacy.py)
MATCH (u:User {id: $user_id})-[r]-()
RETURN count(r) AS edges
